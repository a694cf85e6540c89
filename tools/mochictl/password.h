#ifndef MOCHICTL_PASSWORD_H
#define MOCHICTL_PASSWORD_H

#include <stddef.h>

#include <sodium.h>

/* Dashboard passwords for mochictl users add and passwd: read, checked
 * and hashed here, never taken as a flag (a flag shows in ps and in shell
 * history). */

/* At least this many characters (UTF-8 code points), at most this many
 * bytes: long enough to resist guessing, short enough that hashing stays
 * cheap and the login form's field holds it. */
#define MOCHICTL_PASSWORD_MIN_CHARS 10
#define MOCHICTL_PASSWORD_MAX_BYTES 256

/* Reads a new password. When standard input is not a terminal, its first
 * line, without the line ending (\n or \r\n); otherwise asks on the
 * terminal twice with echo off (prompts on stderr), and the two must
 * agree. Refuses a password shorter than MOCHICTL_PASSWORD_MIN_CHARS
 * characters, longer than MOCHICTL_PASSWORD_MAX_BYTES bytes, not UTF-8
 * (the login form sends UTF-8) or holding a NUL byte. Returns 0 with the
 * password and a NUL in pw (its length in *len), or prints why not, after
 * command, and returns the exit code: 2 for a password refused or none
 * given, 1 when reading failed. Whatever it returns, pw may hold secret
 * bytes: the caller wipes all of it with sodium_memzero. */
int mochictl_password_read(const char *command, char pw[MOCHICTL_PASSWORD_MAX_BYTES + 1],
                           size_t *len);

/* Hashes pw[0..len) into out as libsodium's Argon2id string
 * (crypto_pwhash_str at the interactive limits: algorithm, parameters,
 * salt and hash in one text, as users.password_hash holds it). Returns 0,
 * or prints why not after command and returns the exit code 1 (out of
 * memory: Argon2id takes 64 MiB). */
int mochictl_password_hash(const char *command, const char *pw, size_t len,
                           char out[crypto_pwhash_STRBYTES]);

#endif
