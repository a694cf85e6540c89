#ifndef MOCHI_ERROR_H
#define MOCHI_ERROR_H

/* Every fallible function returns 0 or one of these negative codes. */
#define MOCHI_MUST_CHECK __attribute__((warn_unused_result))

enum mochi_err {
    MOCHI_OK = 0,
    MOCHI_ERR_INVALID = -1, /* bad input from outside: config, HTTP, Kafka, database */
    MOCHI_ERR_AGAIN = -2,   /* transient: the same call may succeed later */
    MOCHI_ERR_NOMEM = -3,
    MOCHI_ERR_IO = -4, /* a file or socket failed */
    MOCHI_ERR_NOTFOUND = -5,
    MOCHI_ERR_INTERNAL = -6, /* a library failed in a way that is not the input's fault */
    MOCHI_ERR_DB = -7,       /* PostgreSQL refused the statement (not a lost connection) */
    MOCHI_ERR_FULL = -8,     /* a bounded queue is full */
    /* An integrity constraint (unique, foreign key) refused a write that the
     * statement's own checks allowed: a concurrent writer got there first. */
    MOCHI_ERR_CONFLICT = -9,
    /* A stream applier's records of how far it has read a partition stop
     * short of where a batch starts: the messages in between were never
     * applied, and must be read again (stream.h, mochi_stream_gap). */
    MOCHI_ERR_GAP = -10,

    /* Avro / wire-format decoding; each names what is wrong with the message. */
    MOCHI_ERR_TRUNCATED = -20, /* fewer bytes than the framing or a field needs */
    MOCHI_ERR_MAGIC = -21,     /* first byte is not the Confluent magic 0x00 */
    MOCHI_ERR_SCHEMA_ID = -22, /* schema id not in the manifest */
    MOCHI_ERR_UTF8 = -23,      /* a string field is not valid UTF-8 or holds control bytes */
    MOCHI_ERR_RANGE = -24,     /* a field decodes but its value is out of range */
    MOCHI_ERR_MALFORMED = -25, /* Avro body does not decode (bad varint, trailing bytes, ...) */
};

/* Returns a static, lower-case, space-free name for err ("truncated",
 * "unknown_schema_id", ...), usable as a metric label or DLQ header. */
const char *mochi_strerror(int err);

#endif
