/* The options of typed commands: their names (for suggestions and completion) and their
 * values (numbers, seconds, directories). */
#include "supervisor/tty_flags.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/util.h"
#include "supervisor/tty_words.h"

static const char *const start_flags[] = {
	"--port",        "--strict-port",    "--framework",    "--tunnel", "--cwd",
	"--env",         "--env-file",       "--health-path",  "--health-timeout",
	"--stop-timeout", "--logs",          "--memory",       "--"};
static const char *const stop_flags[] = {"--timeout"};
static const char *const logs_flags[] = {"-n", "-f"};
static const char *const file_flags[] = {"--file"};
static const char *const frameworks[] = {"auto", "next", "vite", "other"};
static const char *const providers[] = {"cloudflared", "ngrok", "localtunnel"};

#define NAMES(a) {.names = (a), .n = ARRAY_LEN(a)}
const tty_names_t tty_start_flags = NAMES(start_flags), tty_stop_flags = NAMES(stop_flags),
		  tty_logs_flags = NAMES(logs_flags), tty_file_flags = NAMES(file_flags),
		  tty_frameworks = NAMES(frameworks), tty_providers = NAMES(providers);

bool tty_parse_int(const char *s, long long lo, long long hi, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

/* Seconds, fractions allowed ("1.5"), as milliseconds. */
bool tty_parse_seconds_ms(const char *s, long long max_s, long long *ms)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= 0 && v <= (double)max_s))
		return false;
	*ms = (long long)(v * 1000 + 0.5);
	return true;
}

/* "--port=3000" and "--port 3000" alike: the value of flag name, taking the next word if
 * needed; NULL (with err) when it is missing. */
const char *tty_flag_value(int argc, char **argv, int *i, const char *name, char *err,
			      size_t errlen)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "%s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

bool tty_flag_is(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

bool tty_flag_unknown(const char *arg, const char *cmd, const char *const *flags, size_t n,
			 char *err, size_t errlen)
{
	char name[64];
	size_t len = strcspn(arg, "="); /* cut between characters, as a person typed them */
	snprintf(name, sizeof(name), "%.*s", (int)utf8_cut(arg, len, sizeof(name) - 1), arg);
	const char *near = tty_suggest_among(name, flags, n);
	if (near)
		snprintf(err, errlen, "unknown option '%s' for %s — did you mean '%s'?", name, cmd,
			 near);
	else
		snprintf(err, errlen, "unknown option '%s' for %s (help %s)", name, cmd, cmd);
	return false;
}

/* A directory as typed: absolute as it is, ~/ from HOME, anything else below cwd. */
char *tty_absolute_dir(const char *dir, const char *cwd)
{
	char buf[4096];
	const char *home = getenv("HOME");
	if (dir[0] == '/')
		return xstrdup(dir);
	if ((strcmp(dir, "~") == 0 || strncmp(dir, "~/", 2) == 0) && home && *home)
		snprintf(buf, sizeof(buf), "%s%s", home, dir + 1);
	else if (strcmp(dir, ".") == 0)
		snprintf(buf, sizeof(buf), "%s", cwd);
	else
		snprintf(buf, sizeof(buf), "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/",
			 strncmp(dir, "./", 2) == 0 ? dir + 2 : dir);
	return xstrdup(buf);
}
