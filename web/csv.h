#ifndef WEB_CSV_H
#define WEB_CSV_H

/* CSV fields (RFC 4180) that a spreadsheet opens as text: hostile paths and
 * sources must not become formulas. */

#include "web/html.h"

/* Appends text as one CSV field: a leading apostrophe when it begins with
 * '=', '+', '-', '@', TAB or CR (so no spreadsheet evaluates it), then
 * quoted, with its quotes doubled, when it holds ',', '"', CR or LF. */
void web_csv_field(struct web_buf *buf, const char *text);

#endif
