/* spawn_prepare's environment (SPEC §1): the reaper filters what it was given, whatever the
 * master did, so a reaper started with DATABASE_URL or PG* in its environment still keeps them
 * from project code. Each test runs in its own process (CK_FORK), so setenv stays there.
 * And the resolution of the command: exact reasons for each way it fails. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	spawn_ids_t ids = {"proj", "runner", 2500, inherit, 0};
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

/* Resolution of the command (SPEC §4.2): exact reasons for each way it fails. */
static const spawn_ids_t resolve_ids = {"p", "r", 1000, NULL, 0};

/* A PATH entry this user cannot search (e.g. /root/bin for a normal user): the command is not
 * found, and the message names that directory; it is not "found but not executable". */
START_TEST(test_unsearchable_path_entry)
{
	/* the check needs a user the permission bits apply to: drop root in this forked test */
	if (geteuid() == 0)
		ck_assert_int_eq(setuid(65534), 0);
	char dir[] = "/tmp/devsup-unit-spawn-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char locked[sizeof(dir) + 8];
	snprintf(locked, sizeof(locked), "%s/bin", dir);
	ck_assert_int_eq(mkdir(locked, 0700), 0);
	ck_assert_int_eq(chmod(locked, 0), 0);
	char path[sizeof(locked) + 16];
	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", locked);
	json_t *env = json_pack("{s:s}", "PATH", path);
	json_t *cmd = json_pack("[s]", "devsup-no-such-command");
	spawn_plan_t plan;
	failure_t f;
	bool ok = spawn_prepare(cmd, "/tmp", 3000, env, &resolve_ids, &plan, &f);
	chmod(locked, 0700);
	rmdir(locked);
	rmdir(dir);
	ck_assert(!ok);
	ck_assert_msg(f.reason == REASON_COMMAND_NOT_FOUND, "reason %s: %s", reason_name(f.reason),
		      f.message);
	ck_assert_msg(strstr(f.message, locked) && strstr(f.message, "could not be searched"),
		      "message does not name %s: %s", locked, f.message);
	json_decref(env);
	json_decref(cmd);
}
END_TEST

START_TEST(test_name_too_long)
{
	char name[5002];
	name[0] = '/';
	memset(name + 1, 'a', sizeof(name) - 2);
	name[sizeof(name) - 1] = '\0';
	json_t *cmd = json_pack("[s]", name);
	spawn_plan_t plan;
	failure_t f;
	ck_assert(!spawn_prepare(cmd, "/tmp", 3000, NULL, &resolve_ids, &plan, &f));
	ck_assert_msg(f.reason == REASON_COMMAND_NOT_FOUND, "reason %s: %s", reason_name(f.reason),
		      f.message);
	ck_assert_ptr_nonnull(strstr(f.message, "ENAMETOOLONG"));
	json_decref(cmd);
}
END_TEST

START_TEST(test_exec_errors_classified)
{
	spawn_plan_t plan = {.display = "srv", .path = "/bin/srv"};
	failure_t f;
	spawn_error_t e = {SPAWN_STAGE_EXEC, E2BIG};
	spawn_classify_error(&plan, "/tmp", &e, &f);
	ck_assert_ptr_nonnull(strstr(f.message, "too large for exec"));
	e.err = ENAMETOOLONG;
	spawn_classify_error(&plan, "/tmp", &e, &f);
	ck_assert_int_eq(f.reason, REASON_COMMAND_NOT_FOUND);
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

	tc = tcase_create("resolve");
	tcase_add_test(tc, test_unsearchable_path_entry);
	tcase_add_test(tc, test_name_too_long);
	tcase_add_test(tc, test_exec_errors_classified);
	suite_add_tcase(s, tc);
	return s;
}
