#ifndef DEVSUP_SANITIZE_H
#define DEVSUP_SANITIZE_H

#include <stddef.h>

/*
 * Makes one line of a dev server's output safe to show and to put in JSON: ANSI escape
 * sequences (CSI, OSC, two-byte ESC) removed, other control characters except TAB removed,
 * a trailing '\r' dropped, invalid UTF-8 replaced by U+FFFD. Writes at most outcap-1 bytes
 * plus a NUL (never splitting a character) and returns the length written. outcap >= 4.
 */
size_t sanitize_line(const char *in, size_t n, char *out, size_t outcap);

#endif
