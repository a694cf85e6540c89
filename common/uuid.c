#include "common/uuid.h"
#include "common/error.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_dash_position(int i)
{
    return i == 8 || i == 13 || i == 18 || i == 23;
}

int mochi_uuid_parse(const char *text, unsigned char out[16])
{
    if (text == NULL || strlen(text) != MOCHI_UUID_TEXT_LEN)
        return MOCHI_ERR_INVALID;
    int nibble = 0;
    for (int i = 0; i < MOCHI_UUID_TEXT_LEN; i++) {
        if (is_dash_position(i)) {
            if (text[i] != '-')
                return MOCHI_ERR_INVALID;
            continue;
        }
        int v = hexval(text[i]);
        if (v < 0)
            return MOCHI_ERR_INVALID;
        if (nibble % 2 == 0)
            out[nibble / 2] = (unsigned char)(v << 4);
        else
            out[nibble / 2] |= (unsigned char)v;
        nibble++;
    }
    return 0;
}

void mochi_uuid_format(const unsigned char uuid[16], char out[MOCHI_UUID_TEXT_LEN + 1])
{
    snprintf(out, MOCHI_UUID_TEXT_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", uuid[0],
             uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8], uuid[9],
             uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

bool mochi_uuid_is_canonical(const char *text)
{
    /* One pass, no conversion, and no branch per character (the digits
     * are random, so one would mispredict often): the encoder checks
     * every event's site id with it. strnlen first, so that the loop reads
     * no byte past a short string's NUL. */
    if (text == NULL || strnlen(text, MOCHI_UUID_TEXT_LEN + 1) != MOCHI_UUID_TEXT_LEN)
        return false;
    unsigned int bad = 0;
    for (int i = 0; i < MOCHI_UUID_TEXT_LEN; i++) {
        unsigned char c = (unsigned char)text[i];
        unsigned int hex = ((unsigned char)(c - '0') <= 9) | ((unsigned char)(c - 'a') <= 5);
        unsigned int dash = c == '-';
        bad |= is_dash_position(i) ? dash ^ 1 : hex ^ 1;
    }
    return bad == 0;
}
