#include "web/csv.h"

#include <string.h>

void web_csv_field(struct web_buf *buf, const char *text)
{
    bool formula = strchr("=+-@\t\r", text[0]) != NULL && text[0] != '\0';
    bool quote = strpbrk(text, ",\"\r\n") != NULL;
    if (quote)
        web_buf_add(buf, "\"", 1);
    if (formula)
        web_buf_add(buf, "'", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            web_buf_add(buf, "\"\"", 2);
        else
            web_buf_add(buf, p, 1);
    }
    if (quote)
        web_buf_add(buf, "\"", 1);
}
