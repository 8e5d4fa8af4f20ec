#include "common/sanitize.h"

#include <stdbool.h>
#include <stdint.h>

#include "common/utf8.h"

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
		adv = utf8_char_len(in + i, n - i);
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
