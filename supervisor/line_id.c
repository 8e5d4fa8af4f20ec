/* The `id` of a line that jansson refuses: a small tolerant scanner over the raw bytes, so the
 * client's call is answered with its commandId whatever else is wrong with the line. */
#include "supervisor/line_id.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *s;
	size_t i, n;
} scan_t;

static void skip_ws(scan_t *c)
{
	while (c->i < c->n && strchr(" \t\r\n", c->s[c->i]) && c->s[c->i])
		c->i++;
}

/* Past a string whose opening quote is at c->i; false if it does not end in the window. */
static bool skip_string(scan_t *c)
{
	for (c->i++; c->i < c->n; c->i++) {
		if (c->s[c->i] == '\\')
			c->i++;
		else if (c->s[c->i] == '"') {
			c->i++;
			return true;
		}
	}
	return false;
}

/* Past one value of any kind (nested objects and arrays by depth, strings by their quotes);
 * false when the window ends inside it. */
static bool skip_value(scan_t *c)
{
	int depth = 0;
	while (c->i < c->n) {
		char ch = c->s[c->i];
		if (ch == '"') {
			if (!skip_string(c))
				return false;
			if (depth == 0)
				return true;
			continue;
		}
		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (depth == 0)
				return true; /* the end of the enclosing object: the value was empty */
			if (--depth == 0) {
				c->i++;
				return true;
			}
		} else if (depth == 0 && ch == ',') {
			return true;
		}
		c->i++;
	}
	return false;
}

static json_t *decode_number(const char *tok, size_t len)
{
	json_t *v = json_loadb(tok, len, JSON_DECODE_ANY, NULL);
	if (v && json_is_number(v))
		return v;
	json_decref(v);
	/* jansson refuses integers beyond 64 bits: keep the number as a double */
	char buf[64];
	if (len >= sizeof(buf))
		return NULL;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	char *end;
	double d = strtod(buf, &end);
	if (*end || !isfinite(d))
		return NULL;
	return json_real(d);
}

/* The id's value starting at c->i: a string or a number, or NULL. */
static json_t *read_id_value(scan_t *c)
{
	size_t start = c->i;
	if (c->i < c->n && c->s[c->i] == '"') {
		if (!skip_string(c))
			return NULL;
		json_t *v = json_loadb(c->s + start, c->i - start, JSON_DECODE_ANY, NULL);
		if (v && json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v))
			return v;
		json_decref(v); /* not valid UTF-8, a lone surrogate or a NUL: cannot be echoed */
		return NULL;
	}
	while (c->i < c->n && strchr("+-0123456789.eE", c->s[c->i]) && c->s[c->i])
		c->i++;
	if (c->i == start || c->i == c->n)
		return NULL; /* not a number, or cut by the window: its digits may go on */
	return decode_number(c->s + start, c->i - start);
}

json_t *line_id_scan(const char *line, size_t len)
{
	scan_t c = {.s = line, .i = 0, .n = len < LINE_ID_SCAN_MAX ? len : LINE_ID_SCAN_MAX};
	skip_ws(&c);
	if (c.i >= c.n || c.s[c.i] != '{')
		return NULL;
	c.i++;
	for (;;) {
		skip_ws(&c);
		if (c.i >= c.n || c.s[c.i] != '"')
			return NULL;
		size_t key = c.i + 1;
		if (!skip_string(&c))
			return NULL;
		bool is_id = c.i - 1 - key == 2 && memcmp(c.s + key, "id", 2) == 0;
		skip_ws(&c);
		if (c.i >= c.n || c.s[c.i] != ':')
			return NULL;
		c.i++;
		skip_ws(&c);
		if (is_id)
			return read_id_value(&c);
		if (!skip_value(&c))
			return NULL;
		skip_ws(&c);
		if (c.i >= c.n || c.s[c.i] != ',')
			return NULL;
		c.i++;
	}
}
