/* spawn_prepare's environment (SPEC §1): the reaper filters what it was given, whatever the
 * master did, so a reaper started with DATABASE_URL or PG* in its environment still keeps them
 * from project code. Each test runs in its own process (CK_FORK), so setenv stays there. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "reaper/spawn.h"
#include "tests/unit/suites.h"

static const char *lookup(char **envp, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], key, kl) == 0 && envp[i][kl] == '=')
			return envp[i] + kl + 1;
	return NULL;
}

static size_t count(char **envp)
{
	size_t n = 0;
	while (envp[n])
		n++;
	return n;
}

/* The plan's environment for `inherit` (NULL: the default) and env {"ADDED": "1"}. */
static spawn_plan_t plan_with(json_t *inherit)
{
	setenv("DATABASE_URL", "postgres://u:secret@h/db", 1);
	setenv("PGPASSWORD", "hunter2", 1);
	setenv("PGHOST", "/run/postgresql", 1);
	setenv("DEVSUP_LOG_LEVEL", "debug", 1);
	setenv("FOO", "foo", 1);
	setenv("PATH", "/usr/bin:/bin", 1);
	json_t *command = json_pack("[s]", "/bin/true");
	json_t *env = json_pack("{s:s, s:s}", "ADDED", "1", "DEVSUP_RUNNER_ID", "forged");
	spawn_ids_t ids = {"proj", "runner", 2500, inherit};
	spawn_plan_t plan;
	failure_t f;
	ck_assert_msg(spawn_prepare(command, "/", 4321, env, &ids, &plan, &f), "%s", f.message);
	json_decref(command);
	json_decref(env);
	return plan;
}

START_TEST(test_secrets_never_inherited)
{
	spawn_plan_t plan = plan_with(NULL);
	ck_assert_ptr_null(lookup(plan.envp, "DATABASE_URL"));
	ck_assert_ptr_null(lookup(plan.envp, "PGPASSWORD"));
	ck_assert_ptr_null(lookup(plan.envp, "PGHOST"));
	ck_assert_ptr_null(lookup(plan.envp, "DEVSUP_LOG_LEVEL"));
	ck_assert_str_eq(lookup(plan.envp, "FOO"), "foo");
	ck_assert_str_eq(lookup(plan.envp, "ADDED"), "1");
	ck_assert_str_eq(lookup(plan.envp, "PORT"), "4321");
	ck_assert_str_eq(lookup(plan.envp, "DEVSUP_PROJECT_ID"), "proj");
	ck_assert_str_eq(lookup(plan.envp, "DEVSUP_RUNNER_ID"), "runner"); /* env cannot forge it */
	ck_assert_str_eq(lookup(plan.envp, "DEVSUP_STOP_TIMEOUT_MS"), "2500");
	spawn_plan_free(&plan);
}
END_TEST

START_TEST(test_inherit_list)
{
	json_t *list = json_pack("[s, s]", "FOO", "PGPASSWORD"); /* a secret stays out even named */
	spawn_plan_t plan = plan_with(list);
	ck_assert_str_eq(lookup(plan.envp, "FOO"), "foo");
	ck_assert_ptr_null(lookup(plan.envp, "PATH"));
	ck_assert_ptr_null(lookup(plan.envp, "PGPASSWORD"));
	/* FOO, ADDED, PORT and the three markers: nothing else */
	ck_assert_uint_eq(count(plan.envp), 6);
	spawn_plan_free(&plan);
	json_decref(list);
}
END_TEST

START_TEST(test_inherit_false)
{
	json_t *no = json_false();
	spawn_plan_t plan = plan_with(no);
	ck_assert_str_eq(lookup(plan.envp, "PATH"), "/usr/bin:/bin");
	ck_assert_ptr_null(lookup(plan.envp, "FOO"));
	for (size_t i = 0; plan.envp[i]; i++) {
		const char *e = plan.envp[i];
		ck_assert_msg(strncmp(e, "PATH=", 5) == 0 || strncmp(e, "HOME=", 5) == 0 ||
				      strncmp(e, "USER=", 5) == 0 || strncmp(e, "LOGNAME=", 8) == 0 ||
				      strncmp(e, "SHELL=", 6) == 0 || strncmp(e, "LANG=", 5) == 0 ||
				      strncmp(e, "LC_", 3) == 0 || strncmp(e, "TERM=", 5) == 0 ||
				      strncmp(e, "TZ=", 3) == 0 || strncmp(e, "TMPDIR=", 7) == 0 ||
				      strncmp(e, "ADDED=", 6) == 0 || strncmp(e, "PORT=", 5) == 0 ||
				      strncmp(e, "DEVSUP_PROJECT_ID=", 18) == 0 ||
				      strncmp(e, "DEVSUP_RUNNER_ID=", 17) == 0 ||
				      strncmp(e, "DEVSUP_STOP_TIMEOUT_MS=", 23) == 0,
			      "inheritEnv false passed on %s", e);
	}
	spawn_plan_free(&plan);
	json_decref(no);
}
END_TEST

Suite *spawn_suite(void)
{
	Suite *s = suite_create("spawn");
	TCase *tc = tcase_create("environment");
	tcase_add_test(tc, test_secrets_never_inherited);
	tcase_add_test(tc, test_inherit_list);
	tcase_add_test(tc, test_inherit_false);
	suite_add_tcase(s, tc);
	return s;
}
