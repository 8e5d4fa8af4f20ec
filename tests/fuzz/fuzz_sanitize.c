/* libFuzzer: the output sanitizer (common/sanitize.c). Invariants: valid UTF-8, no control
 * character but TAB, within the buffer, NUL-terminated, and sanitizing twice changes nothing. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sanitize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void assert_clean_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		assert(c < 0x80 ? (c >= 0x20 || c == '\t') && c != 0x7f : c >= 0xc2 && c <= 0xf4);
		assert(i + len <= n);
		for (size_t k = 1; k < len; k++)
			assert((s[i + k] & 0xc0) == 0x80);
		i += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size % 97 + 4; /* small buffers too: never write past, never cut a character */
	char *out = malloc(cap), *again = malloc(cap);
	size_t n = sanitize_line((const char *)data, size, out, cap);
	assert(n < cap && out[n] == '\0');
	assert_clean_utf8((const unsigned char *)out, n);
	size_t m = sanitize_line(out, n, again, cap);
	assert(m == n && memcmp(out, again, n) == 0);
	free(out);
	free(again);
	return 0;
}
