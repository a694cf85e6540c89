#ifndef MOCHI_UUID_H
#define MOCHI_UUID_H

#include <stdbool.h>

#define MOCHI_UUID_TEXT_LEN 36

/* Parses a UUID in canonical 8-4-4-4-12 hex form (either case) into 16
 * bytes. Returns 0 or MOCHI_ERR_INVALID. */
int mochi_uuid_parse(const char *text, unsigned char out[16]) __attribute__((warn_unused_result));

/* Writes the canonical lowercase text form and a NUL into out. */
void mochi_uuid_format(const unsigned char uuid[16], char out[MOCHI_UUID_TEXT_LEN + 1]);

/* True when text is a canonical lowercase UUID. */
bool mochi_uuid_is_canonical(const char *text);

#endif
