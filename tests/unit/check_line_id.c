/* line_id: the id of a line jansson refuses, found in the raw bytes (SPEC §3). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/line_id.h"
#include "tests/unit/suites.h"

/* The id found in text, as compact JSON ("" when none). */
static const char *id_of(const char *text, size_t len)
{
	static char shown[128];
	json_t *id = line_id_scan(text, len);
	shown[0] = '\0';
	if (id) {
		char *s = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
		snprintf(shown, sizeof(shown), "%s", s);
		free(s);
		json_decref(id);
	}
	return shown;
}

#define ID(text) id_of(text, strlen(text))

START_TEST(test_found)
{
	ck_assert_str_eq(ID("{\"id\":\"a1\",\"type\":"), "\"a1\"");
	ck_assert_str_eq(ID("  { \"type\" : \"ping\" , \"id\" : 7 , \"x\":\"\\ud800\"}"), "7");
	ck_assert_str_eq(ID("{\"id\":1.5,"), "1.5");
	ck_assert_str_eq(ID("{\"id\":1e3}"), "1000.0");
	ck_assert_str_eq(ID("{\"id\":\"q\\\"uote\"}"), "\"q\\\"uote\"");
	/* after nested values, strings holding braces and commas, and escaped quotes */
	ck_assert_str_eq(ID("{\"env\":{\"A\":\"}{,\\\"\"},\"cmd\":[1,[2,{\"id\":9}]],\"n\":null,\"id\":\"deep\""),
			 "\"deep\"");
	/* beyond 64 bits: the nearest double */
	const char big[] = "{\"id\":123456789012345678901234}";
	json_t *id = line_id_scan(big, strlen(big));
	ck_assert(json_is_real(id));
	ck_assert(json_real_value(id) == 123456789012345678901234.0);
	json_decref(id);
	/* raw invalid UTF-8 elsewhere in the line does not matter */
	ck_assert_str_eq(ID("{\"x\":\"\xff\xfe\",\"id\":\"u\"}"), "\"u\"");
}
END_TEST

START_TEST(test_not_found)
{
	ck_assert_str_eq(ID(""), "");
	ck_assert_str_eq(ID("not json"), "");
	ck_assert_str_eq(ID("[{\"id\":1}]"), "");                  /* not an object */
	ck_assert_str_eq(ID("{\"env\":{\"id\":1}}"), "");           /* not top-level */
	ck_assert_str_eq(ID("{\"id\":true}"), "");                  /* not a string or number */
	ck_assert_str_eq(ID("{\"id\":\"\\ud800\"}"), "");           /* a broken id: not echoed */
	ck_assert_str_eq(ID("{\"id\":\"a\xff\"}"), "");             /* not UTF-8 */
	ck_assert_str_eq(ID("{\"id\":\"a\\u0000b\"}"), "");         /* a NUL */
	ck_assert_str_eq(ID("{\"id\":12"), "");                     /* digits may go on */
	ck_assert_str_eq(ID("{\"id\":1e999}"), "");                 /* not finite */
	ck_assert_str_eq(ID("{\"type\":\"ping\"}"), "");
	ck_assert_str_eq(ID("{\"ids\":1}"), "");
}
END_TEST

START_TEST(test_window)
{
	/* only the first LINE_ID_SCAN_MAX bytes are searched */
	size_t pad = LINE_ID_SCAN_MAX;
	char *line = malloc(pad + 64);
	strcpy(line, "{\"pad\":\"");
	memset(line + 8, 'a', pad);
	strcpy(line + 8 + pad, "\",\"id\":\"late\"}");
	ck_assert_str_eq(id_of(line, strlen(line)), "");
	strcpy(line, "{\"id\":\"early\",\"pad\":\"");
	memset(line + 21, 'a', pad);
	strcpy(line + 21 + pad, "\"}");
	ck_assert_str_eq(id_of(line, strlen(line)), "\"early\"");
	free(line);
}
END_TEST

Suite *line_id_suite(void)
{
	Suite *s = suite_create("line_id");
	TCase *tc = tcase_create("scan");
	tcase_add_test(tc, test_found);
	tcase_add_test(tc, test_not_found);
	tcase_add_test(tc, test_window);
	suite_add_tcase(s, tc);
	return s;
}
