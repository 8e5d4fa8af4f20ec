/* `start` and `restart` as typed: their options into a start-dev-server command, and the
 * --env-file they read. */
#include "supervisor/tty_start.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "supervisor/tty_flags.h"

/* cmd's object `key`, made if missing (borrowed). */
static json_t *object_of(json_t *cmd, const char *key)
{
	json_t *o = json_object_get(cmd, key);
	if (!o) {
		o = json_object();
		json_object_set_new(cmd, key, o);
	}
	return o;
}

static json_t *health_of(json_t *cmd)
{
	return object_of(cmd, "healthCheck");
}

/* --env K=V and --env-file are collected apart ("env" and "envFile") and merged once the
 * line is read, so an --env wins over the file whatever their order. */
static json_t *env_of(json_t *cmd, const char *key)
{
	return object_of(cmd, key);
}

/* Strips one pair of matching quotes around a value, as .env files write them. */
static void unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		memmove(v, v + 1, n - 2);
		v[n - 2] = '\0';
	}
}

bool tty_read_env_file(const char *path, json_t *env, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "--env-file %s: %s", path, strerror(errno));
		return false;
	}
	char line[8192];
	unsigned lineno = 0;
	bool ok = true;
	while (ok && fgets(line, sizeof(line), f)) {
		lineno++;
		/* a longer line would come back in pieces: the value cut, its tail read as a
		 * line of its own */
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "--env-file %s line %u: longer than %zu bytes", path,
				 lineno, sizeof(line) - 2);
			ok = false;
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line + strspn(line, " \t");
		if (!*p || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7 + strspn(p + 7, " \t");
		char *eq = strchr(p, '=');
		size_t nl = eq ? strcspn(p, " \t=") : 0;
		if (!eq || nl == 0 || p + nl != eq) {
			snprintf(err, errlen, "--env-file %s line %u: expected NAME=VALUE", path,
				 lineno);
			ok = false;
			break;
		}
		*eq = '\0';
		unquote(eq + 1);
		/* JSON holds UTF-8 only: a variable in another encoding would be dropped unseen */
		json_t *v = json_string(eq + 1);
		if (!v || json_object_set_new(env, p, v) != 0) {
			snprintf(err, errlen, "--env-file %s line %u: not UTF-8 (save the file as "
					      "UTF-8)",
				 path, lineno);
			ok = false;
		}
	}
	fclose(f);
	return ok;
}

/* "512M", "2G", "1.5G", "300000000": bytes (K, M, G are powers of 1024; a trailing "B" or
 * "iB" is allowed). */
static bool parse_size(const char *s, long long *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v <= 0)
		return false;
	double mult = 1;
	if (*end && strchr("kKmMgG", *end)) {
		mult = *end == 'k' || *end == 'K' ? 1024. : *end == 'm' || *end == 'M' ? 1048576.
										       : 1073741824.;
		end++;
	}
	if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
		end += strlen(end);
	if (*end || v * mult > 9007199254740992.)
		return false;
	*out = (long long)(v * mult);
	return true;
}

/* --memory SIZE: limits.memoryBytes (SPEC §9). */
static bool set_memory_limit(json_t *cmd, const char *v, char *err, size_t errlen)
{
	long long bytes;
	if (!parse_size(v, &bytes)) {
		snprintf(err, errlen, "--memory '%s': expected a size such as 512M or 2G", v);
		return false;
	}
	json_object_set_new(cmd, "limits", json_pack("{s:I}", "memoryBytes", (json_int_t)bytes));
	return true;
}

/* One option of start/restart into cmd; false with err for a bad or unknown one. */
static bool start_option(json_t *cmd, int argc, char **argv, int *i, const char *cwd,
			 char *err, size_t errlen)
{
	const char *a = argv[*i], *v;
	long long num;
	if (tty_flag_is(a, "--port")) {
		if (!(v = tty_flag_value(argc, argv, i, "--port", err, errlen)))
			return false;
		if (!tty_parse_int(v, 1, 65535, &num)) {
			snprintf(err, errlen, "--port '%s': expected a port from 1 to 65535", v);
			return false;
		}
		json_object_set_new(cmd, "port", json_integer((json_int_t)num));
	} else if (strcmp(a, "--strict-port") == 0) {
		json_object_set_new(cmd, "strictPort", json_true());
	} else if (tty_flag_is(a, "--framework")) {
		if (!(v = tty_flag_value(argc, argv, i, "--framework", err, errlen)))
			return false;
		json_object_set_new(cmd, "framework", json_string(v));
	} else if (strcmp(a, "--tunnel") == 0) {
		json_object_set_new(cmd, "tunnel", json_true());
	} else if (strncmp(a, "--tunnel=", 9) == 0) {
		if (!a[9]) {
			snprintf(err, errlen, "--tunnel=PROVIDER: cloudflared, ngrok or localtunnel");
			return false;
		}
		json_object_set_new(cmd, "tunnel", json_pack("{s:s}", "provider", a + 9));
	} else if (tty_flag_is(a, "--cwd")) {
		if (!(v = tty_flag_value(argc, argv, i, "--cwd", err, errlen)))
			return false;
		char *dir = tty_absolute_dir(v, cwd);
		json_object_set_new(cmd, "cwd", json_string(dir));
		free(dir);
	} else if (tty_flag_is(a, "--env")) {
		if (!(v = tty_flag_value(argc, argv, i, "--env", err, errlen)))
			return false;
		const char *eq = strchr(v, '=');
		if (!eq || eq == v) {
			snprintf(err, errlen, "--env '%s': expected NAME=VALUE", v);
			return false;
		}
		json_t *env = env_of(cmd, "env");
		char *name = xstrndup(v, (size_t)(eq - v));
		json_object_set_new(env, name, json_string(eq + 1));
		free(name);
	} else if (tty_flag_is(a, "--env-file")) {
		if (!(v = tty_flag_value(argc, argv, i, "--env-file", err, errlen)))
			return false;
		char *path = tty_absolute_dir(v, cwd);
		bool ok = tty_read_env_file(path, env_of(cmd, "envFile"), err, errlen);
		free(path);
		return ok;
	} else if (tty_flag_is(a, "--health-path")) {
		if (!(v = tty_flag_value(argc, argv, i, "--health-path", err, errlen)))
			return false;
		if (v[0] != '/') {
			snprintf(err, errlen, "--health-path '%s': a URL path starting with /", v);
			return false;
		}
		json_object_set_new(health_of(cmd), "path", json_string(v));
	} else if (tty_flag_is(a, "--health-timeout") || tty_flag_is(a, "--stop-timeout")) {
		bool health = a[2] == 'h';
		const char *name = health ? "--health-timeout" : "--stop-timeout";
		if (!(v = tty_flag_value(argc, argv, i, name, err, errlen)))
			return false;
		if (!tty_parse_seconds_ms(v, 3600, &num) || (health && num == 0)) {
			snprintf(err, errlen, "%s '%s': expected seconds from %s to 3600", name, v,
				 health ? "0.001" : "0");
			return false;
		}
		json_object_set_new(health ? health_of(cmd) : cmd, health ? "timeoutMs"
									  : "stopTimeoutMs",
				    json_integer((json_int_t)num));
	} else if (strcmp(a, "--logs") == 0) {
		json_object_set_new(cmd, "logs", json_true());
	} else if (tty_flag_is(a, "--memory")) {
		if (!(v = tty_flag_value(argc, argv, i, "--memory", err, errlen)) ||
		    !set_memory_limit(cmd, v, err, errlen))
			return false;
	} else {
		return tty_flag_unknown(a, argv[0], tty_start_flags.names, tty_start_flags.n, err, errlen);
	}
	return true;
}

json_t *tty_build_start(int argc, char **argv, const char *cwd, bool is_restart, char *err,
			size_t errlen)
{
	const char *verb = argv[0];
	if (argc < 2 || argv[1][0] == '-') {
		snprintf(err, errlen, "%s needs a project id first: %s ID%s (help %s)", verb, verb,
			 is_restart ? "" : " [options] -- CMD ARGS...", verb);
		return NULL;
	}
	json_t *cmd = json_pack("{s:s, s:s}", "type",
				is_restart ? "restart-dev-server" : "start-dev-server", "projectId",
				argv[1]);
	int i = 2;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (argv[i][0] != '-')
			break; /* the command itself, without a `--` */
		if (!start_option(cmd, argc, argv, &i, cwd, err, errlen))
			goto bad;
	}
	if (i < argc) {
		/* One quoted word with blanks is a shell command line, as a person means it. */
		if (argc - i == 1 && strpbrk(argv[i], " \t"))
			json_object_set_new(cmd, "command", json_string(argv[i]));
		else {
			json_t *words = json_array();
			for (; i < argc; i++)
				json_array_append_new(words, json_string(argv[i]));
			json_object_set_new(cmd, "command", words);
		}
	} else if (!is_restart) {
		snprintf(err, errlen, "start needs the command to run after --, e.g. start %s -- npm "
				      "run dev",
			 argv[1]);
		goto bad;
	}
	json_t *file_env = json_object_get(cmd, "envFile");
	if (file_env) {
		/* the file first, then --env over it */
		json_t *env = json_deep_copy(file_env);
		json_object_update(env, json_object_get(cmd, "env"));
		json_object_set_new(cmd, "env", env);
		json_object_del(cmd, "envFile");
	}
	if (!is_restart && !json_object_get(cmd, "cwd"))
		json_object_set_new(cmd, "cwd", json_string(cwd));
	return cmd;
bad:
	json_decref(cmd);
	return NULL;
}
