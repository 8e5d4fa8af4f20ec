#ifndef DEVSUP_UTF8_H
#define DEVSUP_UTF8_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * UTF-8 that is always valid, whatever was put in and however it was cut. jansson refuses a
 * string that is not valid UTF-8 (json_string and json_pack return NULL), so every text that
 * may come from outside (a command, /proc, a tunnel client's output) or may have been cut to
 * fit a buffer goes through here before it reaches JSON.
 */

/* Length of the valid UTF-8 character at in[0] (n > 0 bytes available), or 0 if none. */
size_t utf8_char_len(const unsigned char *in, size_t n);
/* The code point of the valid UTF-8 character at in[0] (n > 0 bytes available) in *cp;
 * returns its length, or 0 (and *cp 0) if none starts there. */
size_t utf8_decode(const unsigned char *in, size_t n, uint32_t *cp);
/* Bytes of the invalid sequence at in[0] to replace by one U+FFFD (Unicode's "maximal
 * subpart"), so a cut character becomes one replacement, not several. At least 1. */
size_t utf8_invalid_len(const unsigned char *in, size_t n);
/* The largest cut <= max of s[0..len) that does not split a character: max itself when it
 * falls on a boundary (or beyond len: len). */
size_t utf8_cut(const char *s, size_t len, size_t max);

/* Copies in[0..n) into out (outcap >= 4), invalid sequences replaced by U+FFFD, cut at a
 * character boundary to at most outcap-1 bytes, NUL-terminated. Returns the length. */
size_t utf8_copy(char *out, size_t outcap, const char *in, size_t n);
/* vsnprintf into out, then made valid as by utf8_copy. Returns the length. */
size_t utf8_vformat(char *out, size_t outcap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
size_t utf8_format(char *out, size_t outcap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A JSON string of s made valid (invalid sequences replaced): never NULL, unlike json_string. */
json_t *utf8_json_string(const char *s);

#endif
