#ifndef DEVSUP_LINE_ID_H
#define DEVSUP_LINE_ID_H

#include <jansson.h>
#include <stddef.h>

/* How much of a line is searched for its `id` when the line as a whole cannot be parsed. */
#define LINE_ID_SCAN_MAX 65536

/*
 * Finds the `id` of a command in raw bytes that are not (or not entirely) valid JSON: a line
 * cut at --max-line, holding invalid UTF-8, a lone surrogate, or a syntax error after the id.
 * Only a top-level "id" key of an object counts, within the first LINE_ID_SCAN_MAX bytes; its
 * value is returned (new reference) when it is itself a valid JSON string or a number, else
 * NULL. A number is the same number as sent (an integer beyond 64 bits becomes the nearest
 * double, which is what a JSON parser on the client side holds anyway).
 */
json_t *line_id_scan(const char *line, size_t len);

#endif
