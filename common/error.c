#include "common/error.h"

const char *mochi_strerror(int err)
{
    switch (err) {
    case MOCHI_OK:
        return "ok";
    case MOCHI_ERR_INVALID:
        return "invalid";
    case MOCHI_ERR_AGAIN:
        return "try_again";
    case MOCHI_ERR_NOMEM:
        return "out_of_memory";
    case MOCHI_ERR_IO:
        return "io_error";
    case MOCHI_ERR_NOTFOUND:
        return "not_found";
    case MOCHI_ERR_INTERNAL:
        return "internal_error";
    case MOCHI_ERR_DB:
        return "database_error";
    case MOCHI_ERR_FULL:
        return "queue_full";
    case MOCHI_ERR_CONFLICT:
        return "conflict";
    case MOCHI_ERR_GAP:
        return "offset_gap";
    case MOCHI_ERR_TRUNCATED:
        return "truncated";
    case MOCHI_ERR_MAGIC:
        return "bad_magic_byte";
    case MOCHI_ERR_SCHEMA_ID:
        return "unknown_schema_id";
    case MOCHI_ERR_UTF8:
        return "bad_utf8";
    case MOCHI_ERR_RANGE:
        return "out_of_range";
    case MOCHI_ERR_MALFORMED:
        return "malformed_avro";
    }
    return "unknown_error";
}
