/* Resources of SPEC §9: the cgroup file readers (on a directory laid out like a cgroup), byte
 * formatting, limits validation, the front end's --memory and its `top` screen. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/util.h"
#include "supervisor/command.h"
#include "supervisor/tty_commands.h"
#include "supervisor/tty_top.h"
#include "tests/unit/suites.h"

static char dir[64];

static void put(const char *file, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void fake_cgroup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/devsup-unit-cg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	put("cpu.stat", "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
	put("cgroup.events", "populated 1\nfrozen 0\n");
	put("cgroup.procs", "812\n813\n900\n");
	put("memory.current", "268435456\n");
	put("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
}

static void drop_cgroup(void)
{
	static const char *const files[] = {"cpu.stat",       "cgroup.events", "cgroup.procs",
					    "memory.current", "memory.events", "cgroup.kill"};
	char path[128];
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

START_TEST(test_cgroup_files)
{
	uint64_t v = 0;
	fake_cgroup();
	ck_assert_int_eq(cgroup_read_u64(dir, "cpu.stat", "usage_usec", &v), 0);
	ck_assert_uint_eq(v, 1234567);
	/* a key that is a prefix of another is not confused with it */
	ck_assert_int_eq(cgroup_read_u64(dir, "memory.events", "oom", &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(cgroup_read_u64(dir, "memory.events", "oom_kill", &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(cgroup_read_u64(dir, "memory.events", "max", &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_eq(cgroup_read_u64(dir, "memory.events", "nope", &v), -1);
	ck_assert_int_eq(cgroup_read_u64(dir, "memory.current", NULL, &v), 0);
	ck_assert_uint_eq(v, 268435456);
	ck_assert_int_eq(cgroup_read_u64(dir, "missing", NULL, &v), -1);
	ck_assert_int_eq(cgroup_populated(dir), 1);
	put("cgroup.events", "populated 0\nfrozen 0\n");
	ck_assert_int_eq(cgroup_populated(dir), 0);
	pid_t *pids;
	size_t n = cgroup_pids(dir, &pids);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(pids[0], 812);
	ck_assert_int_eq(pids[2], 900);
	free(pids);
	put("cgroup.procs", "");
	ck_assert_uint_eq(cgroup_pids(dir, &pids), 0);
	ck_assert_ptr_null(pids);
	ck_assert_int_eq(cgroup_kill(dir), -1); /* no cgroup.kill file: an old kernel */
	drop_cgroup();
}
END_TEST

START_TEST(test_cgroup_self_dir)
{
	char buf[4096];
	/* where there is a cgroup2 mount (here, and in CI), our own group is a directory of it */
	if (cgroup_self_dir(buf, sizeof(buf))) {
		struct stat st;
		ck_assert_msg(stat(buf, &st) == 0 && S_ISDIR(st.st_mode), "%s", buf);
		char procs[4200];
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", buf);
		ck_assert_msg(access(procs, R_OK) == 0, "%s", procs);
	}
}
END_TEST

START_TEST(test_format_bytes)
{
	char b[32];
	bytes_human(0, b, sizeof(b));
	ck_assert_str_eq(b, "0 B");
	bytes_human(1023, b, sizeof(b));
	ck_assert_str_eq(b, "1023 B");
	bytes_human(1536, b, sizeof(b));
	ck_assert_str_eq(b, "1.5 KiB");
	bytes_human(104857600, b, sizeof(b));
	ck_assert_str_eq(b, "100.0 MiB");
	bytes_human(3ULL << 30, b, sizeof(b));
	ck_assert_str_eq(b, "3.0 GiB");
}
END_TEST

static json_t *start_with_limits(const char *limits, char *err, size_t n)
{
	char text[256];
	snprintf(text, sizeof(text),
		 "{\"projectId\":\"p\",\"command\":[\"node\"],\"cwd\":\"/tmp\",\"limits\":%s}", limits);
	json_t *req = json_loads(text, 0, NULL);
	ck_assert_ptr_nonnull(req);
	json_t *spec = command_validate_start(req, err, n);
	json_decref(req);
	return spec;
}

START_TEST(test_limits_validated)
{
	char err[256];
	json_t *spec = start_with_limits("{\"memoryBytes\":536870912}", err, sizeof(err));
	ck_assert_msg(spec != NULL, "refused: %s", err);
	/* the reaper gets the limit */
	ck_assert_int_eq(json_integer_value(json_object_get(spec, "memoryBytes")), 536870912);
	json_decref(spec);
	spec = start_with_limits("{}", err, sizeof(err));
	ck_assert_ptr_nonnull(spec);
	ck_assert_ptr_null(json_object_get(spec, "memoryBytes"));
	json_decref(spec);
	static const char *const bad[][2] = {
		{"{\"memoryBytes\":0}", "limits.memoryBytes"},
		{"{\"memoryBytes\":-1}", "limits.memoryBytes"},
		{"{\"memoryBytes\":\"512M\"}", "limits.memoryBytes"},
		{"{\"memoryBytes\":1.5}", "limits.memoryBytes"},
		{"{\"memoryBytes\":100}", "limits.memoryBytes"},
		{"{\"cpu\":1}", "limits.cpu"},
		{"[1]", "limits"},
		{"512", "limits"},
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		strcpy(err, "(unset)");
		spec = start_with_limits(bad[i][0], err, sizeof(err));
		ck_assert_msg(spec == NULL, "accepted limits %s", bad[i][0]);
		ck_assert_msg(strstr(err, bad[i][1]), "%s: '%s' does not name %s", bad[i][0], err,
			      bad[i][1]);
	}
}
END_TEST

static long long memory_of(const char *line)
{
	tty_action_t a;
	tty_parse_line(line, "/x", &a);
	long long v = -1;
	if (a.kind == TTY_ACT_SEND)
		v = json_integer_value(json_object_get(
			json_object_get(json_array_get(a.cmds, 0), "limits"), "memoryBytes"));
	tty_action_free(&a);
	return v;
}

START_TEST(test_tty_memory_flag)
{
	ck_assert_int_eq(memory_of("start web --memory 512M -- x"), 512LL << 20);
	ck_assert_int_eq(memory_of("start web --memory=2G -- x"), 2LL << 30);
	ck_assert_int_eq(memory_of("start web --memory 1.5g -- x"), 3LL << 29);
	ck_assert_int_eq(memory_of("start web --memory 64KiB -- x"), 64LL << 10);
	ck_assert_int_eq(memory_of("start web --memory 300000000 -- x"), 300000000LL);
	ck_assert_int_eq(memory_of("restart web --memory 1G"), 1LL << 30);
	tty_action_t a;
	tty_parse_line("start web --memory lots -- x", "/x", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_PRINT);
	ck_assert_msg(a.error && strstr(a.text, "--memory 'lots'"), "%s", a.text);
	tty_action_free(&a);
	tty_parse_line("start web --memory -5M -- x", "/x", &a);
	ck_assert(a.error);
	tty_action_free(&a);
	tty_parse_line("top", "/x", &a);
	ck_assert_int_eq(a.kind, TTY_ACT_TOP);
	tty_action_free(&a);
	tty_parse_line("top now", "/x", &a);
	ck_assert(a.kind == TTY_ACT_PRINT && a.error);
	tty_action_free(&a);
}
END_TEST

START_TEST(test_top_render)
{
	json_t *projects = json_loads(
		"[{\"projectId\":\"light\",\"state\":\"running\",\"port\":3000,\"usage\":"
		"{\"cpuMs\":1200,\"cpuPercent\":50.0,\"rssBytes\":10485760,\"processes\":1}},"
		"{\"projectId\":\"heavy\",\"state\":\"running\",\"port\":3001,\"usage\":"
		"{\"cpuMs\":61000,\"cpuPercent\":2.5,\"rssBytes\":524288000,\"processes\":3}},"
		"{\"projectId\":\"new\",\"state\":\"starting\",\"port\":3002,\"usage\":null}]",
		0, NULL);
	ck_assert_ptr_nonnull(projects);
	char *s = tty_top_render(projects, TTY_TOP_BY_CPU, 100, 30, false, "12:00:00");
	ck_assert_msg(strstr(s, "3 live projects, sorted by CPU   12:00:00"), "%s", s);
	ck_assert_msg(strstr(s, "CPU 52.5%  memory 510.0 MiB"), "%s", s);
	char *light = strstr(s, "light"), *heavy = strstr(s, "heavy"), *fresh = strstr(s, "new ");
	ck_assert_msg(light && heavy && fresh && light < heavy && heavy < fresh, "%s", s);
	ck_assert_msg(strstr(heavy, "500.0 MiB") && strstr(heavy, "1m01s"), "%s", s);
	free(s);
	s = tty_top_render(projects, TTY_TOP_BY_MEMORY, 100, 30, false, "12:00:00");
	light = strstr(s, "light");
	heavy = strstr(s, "heavy");
	ck_assert_msg(heavy && light && heavy < light, "by memory: %s", s);
	free(s);
	/* a short terminal: what does not fit is counted, nothing wraps */
	s = tty_top_render(projects, TTY_TOP_BY_CPU, 40, 6, false, "12:00:00");
	ck_assert_msg(strstr(s, "… 2 more"), "%s", s);
	for (char *line = s; *line;) {
		char *end = strstr(line, "\r\n");
		if (!end)
			break;
		size_t visible = (size_t)(end - line) - (strncmp(end - 3, "\033[K", 3) == 0 ? 3 : 0);
		ck_assert_msg(visible <= 40 + 2 /* "…" is 3 bytes, 1 column */, "%.*s",
			      (int)(end - line), line);
		line = end + 2;
	}
	free(s);
	json_decref(projects);
}
END_TEST

Suite *resources_suite(void)
{
	Suite *s = suite_create("resources");
	TCase *tc = tcase_create("cgroup");
	tcase_add_test(tc, test_cgroup_files);
	tcase_add_test(tc, test_cgroup_self_dir);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_test(tc, test_format_bytes);
	tcase_add_test(tc, test_limits_validated);
	tcase_add_test(tc, test_tty_memory_flag);
	suite_add_tcase(s, tc);
	tc = tcase_create("top");
	tcase_add_test(tc, test_top_render);
	suite_add_tcase(s, tc);
	return s;
}
