/* envfilter: what of devsup's environment reaches project code (SPEC §1). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/envfilter.h"
#include "tests/unit/suites.h"

START_TEST(test_secrets)
{
	static const char *const secret[] = {
		"DATABASE_URL=postgres://u:p@h/db", "PGPASSWORD=hunter2", "PGHOST=/run/postgresql",
		"PGUSER=u", "PGSSLMODE=require", "PGSERVICE=x", "PGOPTIONS=-c x=y", "PGPORT=5432",
		"PGDATABASE=d", "PGLOADBALANCEHOSTS=random", "DATABASE_URL"};
	static const char *const not_secret[] = {"DATABASE_URLS=x", "MY_DATABASE_URL=x", "PG=1",
						 "PGsomething=1", "PG_1=x", "APGHOST=x", "PATH=/bin"};
	for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
		ck_assert_msg(envfilter_is_secret(secret[i]), "%s kept", secret[i]);
	for (size_t i = 0; i < sizeof(not_secret) / sizeof(not_secret[0]); i++)
		ck_assert_msg(!envfilter_is_secret(not_secret[i]), "%s dropped", not_secret[i]);
	ck_assert(envfilter_is_devsup("DEVSUP_LOG_LEVEL=debug"));
	ck_assert(!envfilter_is_devsup("XDEVSUP_A=1"));
}
END_TEST

START_TEST(test_basic_set)
{
	static const char *const basic[] = {"PATH=/bin", "HOME=/root", "USER=u", "LOGNAME=u",
					    "SHELL=/bin/sh", "LANG=C", "LC_ALL=C", "LC_CTYPE=C",
					    "TERM=xterm", "TZ=UTC", "TMPDIR=/tmp"};
	static const char *const other[] = {"PATHX=1", "HOMEDIR=/x", "API_SECRET_TOKEN=s",
					    "LANGUAGE=en", "NODE_ENV=production"};
	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++)
		ck_assert_msg(envfilter_is_basic(basic[i]), "%s not basic", basic[i]);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		ck_assert_msg(!envfilter_is_basic(other[i]), "%s basic", other[i]);
}
END_TEST

START_TEST(test_keeps)
{
	json_t *f = json_false(), *t = json_true();
	json_t *list = json_pack("[s, s]", "FOO", "NPM_*");
	ck_assert(envfilter_keeps(NULL, "API_SECRET_TOKEN=s"));
	ck_assert(envfilter_keeps(t, "API_SECRET_TOKEN=s"));
	ck_assert(!envfilter_keeps(f, "API_SECRET_TOKEN=s"));
	ck_assert(envfilter_keeps(f, "PATH=/bin"));
	ck_assert(envfilter_keeps(list, "FOO=1"));
	ck_assert(!envfilter_keeps(list, "FOOD=1"));
	ck_assert(!envfilter_keeps(list, "PATH=/bin"));
	ck_assert(envfilter_keeps(list, "NPM_CONFIG_CACHE=/c"));
	ck_assert(!envfilter_keeps(list, "NPM=1"));
	json_decref(list);
	json_decref(f);
	json_decref(t);
}
END_TEST

START_TEST(test_parse_list)
{
	char err[256];
	json_t *l = envfilter_parse_list("FOO,LC_*,_B2", err, sizeof(err));
	ck_assert_ptr_nonnull(l);
	ck_assert_uint_eq(json_array_size(l), 3);
	ck_assert_str_eq(json_string_value(json_array_get(l, 1)), "LC_*");
	json_decref(l);
	l = envfilter_parse_list("", err, sizeof(err));
	ck_assert_uint_eq(json_array_size(l), 0);
	json_decref(l);
	ck_assert_ptr_null(envfilter_parse_list("FOO,,BAR", err, sizeof(err)));
	ck_assert_ptr_null(envfilter_parse_list("FOO,B-R", err, sizeof(err)));
	ck_assert_msg(strstr(err, "'B-R'") != NULL, "%s", err);
}
END_TEST

START_TEST(test_without_secrets)
{
	char *env[] = {"PATH=/bin", "DATABASE_URL=x", "PGPASSWORD=y", "DEVSUP_LOG_LEVEL=info",
		       "A=1", NULL};
	char **out = envfilter_without_secrets(env);
	ck_assert_str_eq(out[0], "PATH=/bin");
	ck_assert_str_eq(out[1], "DEVSUP_LOG_LEVEL=info"); /* the reaper reads it */
	ck_assert_str_eq(out[2], "A=1");
	ck_assert_ptr_null(out[3]);
	free(out);
}
END_TEST

Suite *envfilter_suite(void)
{
	Suite *s = suite_create("envfilter");
	TCase *tc = tcase_create("envfilter");
	tcase_add_test(tc, test_secrets);
	tcase_add_test(tc, test_basic_set);
	tcase_add_test(tc, test_keeps);
	tcase_add_test(tc, test_parse_list);
	tcase_add_test(tc, test_without_secrets);
	suite_add_tcase(s, tc);
	return s;
}
