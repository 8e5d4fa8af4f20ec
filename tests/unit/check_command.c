/* command_validate_start: what a start-dev-server request must look like (SPEC §4). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/command.h"
#include "tests/unit/suites.h"

static const char minimal[] = "{\"projectId\":\"p\",\"command\":[\"node\",\"x.js\"],\"cwd\":\"/tmp\"}";

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
	ck_assert_msg(j != NULL, "bad test JSON %s: %s", text, jerr.text);
	return j;
}

/* The minimal request with key set to the JSON value `value` (NULL: key removed). */
static json_t *with(const char *key, const char *value)
{
	json_t *req = load(minimal);
	if (value)
		json_object_set_new(req, key, load(value));
	else
		json_object_del(req, key);
	return req;
}

/* Asserts the request is refused with an error naming `field`. */
static void expect_refused(json_t *req, const char *field)
{
	char err[256];
	strcpy(err, "(unset)");
	char *shown = json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *spec = command_validate_start(req, err, sizeof(err));
	ck_assert_msg(spec == NULL, "accepted %s", shown);
	ck_assert_msg(strstr(err, field) != NULL, "%s: error \"%s\" does not name '%s'", shown,
		      err, field);
	free(shown);
	json_decref(req);
}

static void refused(const char *key, const char *value, const char *field)
{
	expect_refused(with(key, value), field);
}

/* --- accepted -------------------------------------------------------------------------- */

START_TEST(test_minimal_start)
{
	char err[256] = "";
	json_t *req = load(minimal);
	json_t *spec = command_validate_start(req, err, sizeof(err));
	ck_assert_msg(spec != NULL, "refused: %s", err);
	ck_assert_str_eq(json_string_value(json_object_get(spec, "projectId")), "p");
	ck_assert_str_eq(json_string_value(json_object_get(spec, "cwd")), "/tmp");
	ck_assert_str_eq(json_string_value(json_object_get(spec, "framework")), "auto");
	ck_assert(json_is_false(json_object_get(spec, "strictPort")));
	ck_assert(json_is_false(json_object_get(spec, "logs")));
	json_t *cmd = json_object_get(spec, "command");
	ck_assert(json_is_array(cmd));
	ck_assert_uint_eq(json_array_size(cmd), 2);
	ck_assert_str_eq(json_string_value(json_array_get(cmd, 0)), "node");
	ck_assert_str_eq(json_string_value(json_array_get(cmd, 1)), "x.js");
	ck_assert_ptr_null(json_object_get(spec, "port")); /* none asked: one is allocated */
	json_decref(spec);
	json_decref(req);
}
END_TEST

START_TEST(test_string_command)
{
	char err[256] = "";
	json_t *req = with("command", "\"npm run dev -- --port {port}\"");
	json_t *spec = command_validate_start(req, err, sizeof(err));
	ck_assert_msg(spec != NULL, "refused: %s", err);
	ck_assert_str_eq(json_string_value(json_object_get(spec, "command")),
			 "npm run dev -- --port {port}");
	json_decref(spec);
	json_decref(req);
}
END_TEST

START_TEST(test_full_start)
{
	char err[256] = "";
	json_t *req = load("{\"projectId\":\"web-1\",\"command\":[\"vite\"],\"cwd\":\"/srv/app\","
			   "\"port\":5173,\"strictPort\":true,\"env\":{\"NODE_ENV\":\"development\"},"
			   "\"framework\":\"vite\",\"healthCheck\":{\"path\":\"/health\","
			   "\"timeoutMs\":2000},\"stopTimeoutMs\":0,\"logs\":true,\"tunnel\":false}");
	json_t *spec = command_validate_start(req, err, sizeof(err));
	ck_assert_msg(spec != NULL, "refused: %s", err);
	ck_assert_str_eq(json_string_value(json_object_get(spec, "framework")), "vite");
	ck_assert(json_is_true(json_object_get(spec, "strictPort")));
	ck_assert(json_is_true(json_object_get(spec, "logs")));
	ck_assert_int_eq(json_integer_value(json_object_get(spec, "port")), 5173);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(spec, "env"),
							    "NODE_ENV")),
			 "development");
	json_decref(spec);
	json_decref(req);
}
END_TEST

START_TEST(test_port_bounds_accepted)
{
	char err[256];
	for (int i = 0; i < 2; i++) {
		json_t *req = with("port", i ? "65535" : "1");
		json_t *spec = command_validate_start(req, err, sizeof(err));
		ck_assert_msg(spec != NULL, "refused: %s", err);
		json_decref(spec);
		json_decref(req);
	}
}
END_TEST

/* --- refused, by field ----------------------------------------------------------------- */

START_TEST(test_project_id_refused)
{
	char long_id[256];
	memset(long_id, 0, sizeof(long_id));
	long_id[0] = '"';
	memset(long_id + 1, 'a', 200);
	long_id[201] = '"';
	refused("projectId", NULL, "projectId");
	refused("projectId", "\"a/b\"", "projectId");
	refused("projectId", long_id, "projectId");
	refused("projectId", "42", "projectId");
	refused("projectId", "\"\"", "projectId");
	refused("projectId", "null", "projectId");
}
END_TEST

START_TEST(test_command_refused)
{
	refused("command", NULL, "command");
	refused("command", "[]", "command");
	refused("command", "\"\"", "command");
	refused("command", "\"   \"", "command");
	refused("command", "[\"node\", 1]", "command");
	refused("command", "[\"\"]", "command");
	refused("command", "5", "command");
	refused("command", "{}", "command");
}
END_TEST

START_TEST(test_cwd_refused)
{
	refused("cwd", NULL, "cwd");
	refused("cwd", "\"relative/dir\"", "cwd");
	refused("cwd", "\"\"", "cwd");
	refused("cwd", "3", "cwd");
}
END_TEST

START_TEST(test_port_refused)
{
	refused("port", "0", "port");
	refused("port", "65536", "port");
	refused("port", "-1", "port");
	refused("port", "\"3000\"", "port");
	refused("port", "3000.5", "port");
}
END_TEST

START_TEST(test_env_refused)
{
	refused("env", "{\"A\":1}", "env");
	refused("env", "{\"A=B\":\"x\"}", "env");
	refused("env", "{\"\":\"x\"}", "env");
	refused("env", "[]", "env");
	refused("env", "\"A=B\"", "env");
}
END_TEST

START_TEST(test_other_fields_refused)
{
	refused("framework", "\"rails\"", "framework");
	refused("framework", "7", "framework");
	refused("healthCheck", "{\"path\":\"no-slash\"}", "healthCheck.path");
	refused("healthCheck", "{\"path\":\"/a b\"}", "healthCheck.path");
	refused("healthCheck", "{\"timeoutMs\":0}", "healthCheck.timeoutMs");
	refused("healthCheck", "\"/\"", "healthCheck");
	refused("stopTimeoutMs", "-5", "stopTimeoutMs");
	refused("strictPort", "\"yes\"", "strictPort");
	refused("logs", "1", "logs");
}
END_TEST

/* inheritEnv reaches the reaper as given; absent (and no --env-allow): absent, i.e. all. */
START_TEST(test_inherit_env_accepted)
{
	static const char *const values[] = {"true", "false", "[]", "[\"FOO\",\"LC_*\",\"_x1\"]"};
	char err[256] = "";
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		json_t *req = with("inheritEnv", values[i]);
		json_t *spec = command_validate_start(req, err, sizeof(err));
		ck_assert_msg(spec != NULL, "%s refused: %s", values[i], err);
		ck_assert_msg(json_equal(json_object_get(spec, "inheritEnv"),
					 json_object_get(req, "inheritEnv")),
			      "inheritEnv %s not passed on", values[i]);
		json_decref(spec);
		json_decref(req);
	}
	json_t *req = load(minimal);
	json_t *spec = command_validate_start(req, err, sizeof(err));
	ck_assert_ptr_null(json_object_get(spec, "inheritEnv"));
	json_decref(spec);
	json_decref(req);
}
END_TEST

START_TEST(test_inherit_env_refused)
{
	refused("inheritEnv", "\"false\"", "inheritEnv");
	refused("inheritEnv", "0", "inheritEnv");
	refused("inheritEnv", "{}", "inheritEnv");
	refused("inheritEnv", "[1]", "inheritEnv");
	refused("inheritEnv", "[\"\"]", "inheritEnv");
	refused("inheritEnv", "[\"A=B\"]", "inheritEnv");
	refused("inheritEnv", "[\"9LIVES\"]", "inheritEnv");
	refused("inheritEnv", "[\"A*B\"]", "inheritEnv");
}
END_TEST

START_TEST(test_unknown_fields_refused)
{
	/* each names the field and the closest known one */
	refused("stricPort", "true", "'strictPort'");
	refused("stricPort", "true", "'stricPort'");
	refused("healthCheck", "{\"expct\":\"any\"}", "'healthCheck.expect'");
	refused("tunnel", "{\"provder\":\"ngrok\"}", "'tunnel.provider'");
	refused("Env", "{}", "'env'");
}
END_TEST

static void pattern_check(const char *pattern_json, const char *needle)
{
	char field[512];
	snprintf(field, sizeof(field),
		 "{\"provider\":\"custom\",\"command\":[\"sh\"],\"urlPattern\":%s}",
		 pattern_json);
	if (needle) {
		refused("tunnel", field, needle);
		return;
	}
	char err[256] = "";
	json_t *req = with("tunnel", field);
	json_t *spec = command_validate_start(req, err, sizeof(err));
	ck_assert_msg(spec != NULL, "%s refused: %s", pattern_json, err);
	json_decref(spec);
	json_decref(req);
}

START_TEST(test_url_pattern_bounded)
{
	/* found by fuzzing: regcomp of this took 2 GB in the master */
	pattern_check("\"(a{1000}){1000}\"", "repeats too much");
	pattern_check("\"((a{30}){30}){30}\"", "repeats too much");
	pattern_check("\"[[:alpha:]]{1,2000}\"", "repeats too much");
	pattern_check("\"(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))\"",
		      "repeats too much");
	pattern_check("\"(https://[a-z]+)\\\\1\"", "back-reference");
	pattern_check("\"[z-a]\"", "not a valid POSIX extended");
	pattern_check("\"\"", "is missing");
	/* what real URL patterns look like stays accepted */
	pattern_check("\"(https://[a-z0-9-]{1,63}\\\\.[a-z]{2,63})\"", NULL);
	pattern_check("\"url=(https://[^\\\" ]+)\"", NULL);
	pattern_check("\"ready at (https://[^ ]+)|(https://x{1,5}\\\\.test)\"", NULL);
	pattern_check("\"a{2}b{1,}c\\\\{1\"", NULL);
}
END_TEST

START_TEST(test_expect)
{
	static const char *const good[] = {"\"any\"", "\"2xx-3xx\"", "[200]", "[200, 204, 599]",
					   "null"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char hc[64], err[256] = "";
		snprintf(hc, sizeof(hc), "{\"expect\":%s}", good[i]);
		json_t *req = with("healthCheck", hc);
		json_t *spec = command_validate_start(req, err, sizeof(err));
		ck_assert_msg(spec != NULL, "expect %s refused: %s", good[i], err);
		/* the default needs no word to the reaper */
		bool sent = json_object_get(spec, "healthExpect") != NULL;
		ck_assert_int_eq(sent, i >= 1 && i <= 3);
		json_decref(spec);
		json_decref(req);
	}
	static const char *const bad[] = {"\"3xx\"", "[]", "[99]", "[600]", "[\"200\"]", "200",
					  "true"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char hc[64];
		snprintf(hc, sizeof(hc), "{\"expect\":%s}", bad[i]);
		refused("healthCheck", hc, "healthCheck.expect");
	}
}
END_TEST

START_TEST(test_closest_field)
{
	static const char *const known[] = {"projectId", "timeoutMs", "reason", NULL};
	ck_assert_str_eq(command_closest_field("timeout", known), "timeoutMs");
	ck_assert_str_eq(command_closest_field("PROJECTID", known), "projectId");
	ck_assert_str_eq(command_closest_field("reasons", known), "reason");
}
END_TEST

Suite *command_suite(void)
{
	Suite *s = suite_create("command");
	TCase *tc = tcase_create("start_accepted");
	tcase_add_test(tc, test_minimal_start);
	tcase_add_test(tc, test_string_command);
	tcase_add_test(tc, test_full_start);
	tcase_add_test(tc, test_port_bounds_accepted);
	tcase_add_test(tc, test_inherit_env_accepted);
	suite_add_tcase(s, tc);

	tc = tcase_create("start_refused");
	tcase_add_test(tc, test_project_id_refused);
	tcase_add_test(tc, test_command_refused);
	tcase_add_test(tc, test_cwd_refused);
	tcase_add_test(tc, test_port_refused);
	tcase_add_test(tc, test_env_refused);
	tcase_add_test(tc, test_other_fields_refused);
	tcase_add_test(tc, test_inherit_env_refused);
	tcase_add_test(tc, test_unknown_fields_refused);
	tcase_add_test(tc, test_expect);
	tcase_add_test(tc, test_url_pattern_bounded);
	tcase_add_test(tc, test_closest_field);
	suite_add_tcase(s, tc);
	return s;
}
