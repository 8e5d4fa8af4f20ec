#include "common/utf8.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

size_t utf8_invalid_len(const unsigned char *in, size_t n)
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

size_t utf8_char_len(const unsigned char *in, size_t n)
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

size_t utf8_decode(const unsigned char *in, size_t n, uint32_t *cp)
{
	size_t len = utf8_char_len(in, n);
	*cp = 0;
	if (len == 0)
		return 0;
	*cp = len == 1 ? in[0] : in[0] & (0x7fu >> len);
	for (size_t i = 1; i < len; i++)
		*cp = (*cp << 6) | (in[i] & 0x3fu);
	return len;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	if (max >= len)
		return len;
	/* back over at most 3 continuation bytes: the character they belong to starts before */
	size_t cut = max;
	while (cut > 0 && max - cut < 3 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	return ((unsigned char)s[cut] & 0xc0) == 0x80 ? max : cut;
}

size_t utf8_copy(char *out, size_t outcap, const char *in_, size_t n)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *in = (const unsigned char *)in_;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t adv = utf8_char_len(in + i, n - i);
		const char *src = (const char *)in + i;
		size_t take = adv;
		if (adv == 0) {
			src = replacement;
			take = 3;
			adv = utf8_invalid_len(in + i, n - i);
		}
		if (o + take >= outcap)
			break;
		memcpy(out + o, src, take);
		o += take;
		i += adv;
	}
	out[o] = '\0';
	return o;
}

size_t utf8_vformat(char *out, size_t outcap, const char *fmt, va_list ap)
{
	char *raw = NULL;
	int n = vasprintf(&raw, fmt, ap);
	if (n < 0) { /* out of memory: say so rather than leave out undefined */
		return utf8_copy(out, outcap, "(message lost: out of memory)", 29);
	}
	size_t len = utf8_copy(out, outcap, raw, (size_t)n);
	free(raw);
	return len;
}

size_t utf8_format(char *out, size_t outcap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = utf8_vformat(out, outcap, fmt, ap);
	va_end(ap);
	return n;
}

json_t *utf8_json_string(const char *s)
{
	size_t n = strlen(s);
	json_t *j = json_stringn(s, n);
	if (j)
		return j;
	/* invalid: each bad byte grows to at most 3 */
	char *valid = xmalloc(n * 3 + 4);
	size_t len = utf8_copy(valid, n * 3 + 4, s, n);
	j = json_stringn(valid, len);
	free(valid);
	if (!j) /* only out of memory is left */
		abort();
	return j;
}
