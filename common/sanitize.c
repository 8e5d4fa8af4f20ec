#include "common/sanitize.h"

#include <stdbool.h>
#include <stdint.h>

/* Length of the escape sequence starting at in[0] == ESC (at least 1). */
static size_t ansi_len(const unsigned char *in, size_t n)
{
	if (n < 2)
		return n;
	size_t i = 2;
	if (in[1] == '[') { /* CSI: parameters and intermediates, then a final byte 0x40-0x7E */
		while (i < n && !(in[i] >= 0x40 && in[i] <= 0x7e))
			i++;
		return i < n ? i + 1 : n;
	}
	if (in[1] == ']' || in[1] == 'P' || in[1] == '_' || in[1] == '^') {
		/* OSC/DCS/APC/PM: up to BEL or ST (ESC \) */
		while (i < n) {
			if (in[i] == 0x07)
				return i + 1;
			if (in[i] == 0x1b && i + 1 < n && in[i + 1] == '\\')
				return i + 2;
			i++;
		}
		return n;
	}
	/* nF escapes such as ESC ( B (select character set): intermediates 0x20-0x2F, then a
	 * final byte 0x30-0x7E */
	i = 1;
	while (i < n && in[i] >= 0x20 && in[i] <= 0x2f)
		i++;
	return i < n ? i + 1 : n;
}

/* Bytes of an invalid sequence to replace by one U+FFFD: its maximal subpart (Unicode's
 * recommended practice), so a truncated character becomes one replacement, not several. */
static size_t utf8_invalid_len(const unsigned char *in, size_t n)
{
	unsigned char c = in[0];
	size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	unsigned char lo = 0x80, hi = 0xbf;
	if (c < 0xc2 || c > 0xf4 || n < 2)
		return 1;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (in[1] < lo || in[1] > hi)
		return 1;
	size_t k = 2;
	while (k < len && k < n && (in[k] & 0xc0) == 0x80)
		k++;
	return k;
}

/* Length of the valid UTF-8 character at in[0], or 0 if it is not one. */
static size_t utf8_len(const unsigned char *in, size_t n)
{
	unsigned char c = in[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((in[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (in[i] & 0x3f);
	}
	/* overlong forms, surrogates and code points past U+10FFFF are invalid */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t sanitize_line(const char *in_, size_t n, char *out, size_t outcap)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *in = (const unsigned char *)in_;
	size_t o = 0;
	if (n > 0 && in[n - 1] == '\r')
		n--;
	for (size_t i = 0; i < n;) {
		const char *src;
		size_t take, adv;
		if (in[i] == 0x1b) {
			i += ansi_len(in + i, n - i);
			continue;
		}
		if ((in[i] < 0x20 && in[i] != '\t') || in[i] == 0x7f) {
			i++;
			continue;
		}
		adv = utf8_len(in + i, n - i);
		if (adv == 0) {
			src = replacement;
			take = 3;
			adv = utf8_invalid_len(in + i, n - i);
		} else {
			src = (const char *)in + i;
			take = adv;
		}
		if (o + take >= outcap)
			break;
		for (size_t k = 0; k < take; k++)
			out[o++] = src[k];
		i += adv;
	}
	out[o] = '\0';
	return o;
}
