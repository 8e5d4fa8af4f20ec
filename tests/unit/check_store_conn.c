/* Connection parameters of the Postgres writer: the URL's settings win, options are merged,
 * and only real host names need a look-up off the loop. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/store_conn.h"
#include "tests/unit/suites.h"

static void build(conn_params_t *p, const char *url)
{
	char err[256];
	unsetenv("PGHOST");
	unsetenv("PGHOSTADDR");
	ck_assert_msg(conn_params_build(p, url, err, sizeof(err)), "%s: %s", url, err);
}

START_TEST(url_settings_win)
{
	conn_params_t p;
	build(&p, "postgresql://u@/db?host=/tmp&application_name=mine&keepalives_idle=99");
	ck_assert_str_eq(conn_params_get(&p, "application_name"), "mine");
	ck_assert_str_eq(conn_params_get(&p, "keepalives_idle"), "99");
	ck_assert_str_eq(conn_params_get(&p, "keepalives_interval"), "5"); /* ours, not given */
	ck_assert_str_eq(conn_params_get(&p, "dbname"), "db");
	ck_assert_str_eq(conn_params_get(&p, "user"), "u");
	ck_assert_ptr_null(conn_params_get(&p, "port"));
	conn_params_free(&p);
}
END_TEST

START_TEST(options_merged_theirs_last)
{
	conn_params_t p;
	build(&p, "postgresql:///db?options=-c%20search_path%3Dx%20-c%20synchronous_commit%3Dlocal");
	const char *o = conn_params_get(&p, "options");
	const char *ours = strstr(o, "synchronous_commit=on");
	const char *theirs = strstr(o, "synchronous_commit=local");
	ck_assert_ptr_nonnull(ours);
	ck_assert_ptr_nonnull(theirs);
	ck_assert_msg(ours < theirs, "the URL's -c must come last to win: %s", o);
	ck_assert_ptr_nonnull(strstr(o, "search_path=x"));
	conn_params_free(&p);

	build(&p, "postgresql:///db");
	ck_assert_ptr_nonnull(strstr(conn_params_get(&p, "options"), "synchronous_commit=on"));
	conn_params_free(&p);
}
END_TEST

START_TEST(bad_url_is_an_error)
{
	conn_params_t p;
	char err[256] = "";
	ck_assert(!conn_params_build(&p, "postgresql://h/db?nosuchsetting=1", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "nosuchsetting"));
}
END_TEST

START_TEST(resolution_only_for_names)
{
	static const struct {
		const char *url;
		bool need;
	} cases[] = {
		{"postgresql:///db", false},                       /* default socket */
		{"postgresql:///db?host=/run/postgresql", false},   /* socket directory */
		{"postgresql://127.0.0.1:5432/db", false},
		{"postgresql://[::1]/db", false},
		{"postgresql://db.example/db", true},
		{"postgresql://db.example/db?hostaddr=10.0.0.1", false}, /* the user's own address */
		{"postgresql://10.0.0.1,db.example/db", true},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		conn_params_t p;
		build(&p, cases[i].url);
		ck_assert_msg(conn_needs_resolution(&p) == cases[i].need, "%s", cases[i].url);
		conn_params_free(&p);
	}
}
END_TEST

Suite *store_conn_suite(void)
{
	Suite *s = suite_create("store_conn");
	TCase *tc = tcase_create("params");
	tcase_add_test(tc, url_settings_win);
	tcase_add_test(tc, options_merged_theirs_last);
	tcase_add_test(tc, bad_url_is_an_error);
	tcase_add_test(tc, resolution_only_for_names);
	suite_add_tcase(s, tc);
	return s;
}
