/* One input line -> one validated command -> one answer. */
#include "supervisor/command.h"

#include <stdio.h>
#include <string.h>

#include "common/chan.h"
#include "common/envfilter.h"
#include "common/log.h"
#include "common/util.h"
#include "supervisor/line_id.h"
#include "supervisor/metrics.h"
#include "supervisor/output.h"
#include "supervisor/project.h"
#include "supervisor/reply.h"
#include "supervisor/resources.h"
#include "supervisor/store.h"
#include "supervisor/tunnel_config.h"
#include "reaper/health.h"

#define TIMEOUT_MAX_MS 3600000 /* an hour: anything longer is a mistake */
/* Linux's MAX_ARG_STRLEN (32 pages): exec refuses a longer argument or KEY=VALUE string
 * with E2BIG, so such a start could never run. */
#define EXEC_STRING_MAX (32 * 4096 - 1)
/* The widest runnerId (--runner-id) that the master adds to a start's message. */
#define RUNNER_ID_MAX 128

static struct {
	const options_t *opts;
	uint64_t started_ms;
	void (*on_shutdown)(json_t *id, json_t *timeout_ms, bool detach);
} cmd;

void command_init(const options_t *opts)
{
	cmd.opts = opts;
	cmd.started_ms = clock_ms();
	tunnel_config_init(opts);
}

void command_on_shutdown(void (*cb)(json_t *id, json_t *timeout_ms, bool detach))
{
	cmd.on_shutdown = cb;
}

/* Field checks: each returns false with err naming the field. */

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

/* The fields each command knows. A field not listed is refused, naming the closest known
 * one: a typo (`stricPort`) never passes silently. */
#define COMMON_FIELDS "type", "id"
#define START_FIELDS                                                                            \
	COMMON_FIELDS, "projectId", "command", "cwd", "port", "strictPort", "env", "framework",  \
		"healthCheck", "tunnel", "stopTimeoutMs", "logs", "inheritEnv", "listenTrap", "limits"
static const char *const start_fields[] = {START_FIELDS, NULL};
static const char *const stop_fields[] = {COMMON_FIELDS, "projectId", "timeoutMs", "reason",
					  NULL};
static const char *const status_fields[] = {COMMON_FIELDS, "projectId", NULL};
static const char *const logs_fields[] = {COMMON_FIELDS, "projectId", "lines", NULL};
static const char *const follow_fields[] = {COMMON_FIELDS, "projectId", "follow", NULL};
static const char *const bare_fields[] = {COMMON_FIELDS, NULL};
static const char *const shutdown_fields[] = {COMMON_FIELDS, "timeoutMs", "detach", NULL};
static const char *const health_fields[] = {"path", "timeoutMs", "expect", NULL};
static const char *const tunnel_fields[] = {"provider", "command", "urlPattern", "timeoutMs",
					    "retries", NULL};

const char *command_closest_field(const char *name, const char *const *known)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1;
	for (size_t i = 0; known[i]; i++) {
		size_t d = text_distance(name, known[i]);
		if (d < best_d) {
			best_d = d;
			best = known[i];
		}
	}
	return best;
}

/* False, with err naming the first field of obj not in known and the closest known one;
 * prefix names the enclosing field ("healthCheck.") or is "". */
static bool check_fields(const json_t *obj, const char *const *known, const char *prefix,
			 char *err, size_t n)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		bool ok = false;
		for (size_t i = 0; known[i] && !ok; i++)
			ok = strcmp(key, known[i]) == 0;
		if (ok)
			continue;
		char shown[64];
		snprintf(shown, sizeof(shown), "%s", key);
		const char *near = command_closest_field(key, known);
		snprintf(err, n, "field '%s%s' is unknown%s%s%s%s", prefix, shown,
			 near ? "; did you mean '" : "", near ? prefix : "", near ? near : "",
			 near ? "'?" : "");
		return false;
	}
	return true;
}

static bool check_project_id(const json_t *v, char *err, size_t n)
{
	if (!v) {
		snprintf(err, n, "field 'projectId' is missing");
		return false;
	}
	if (!json_is_string(v) || !project_id_valid(json_string_value(v))) {
		snprintf(err, n, "field 'projectId' must be 1-128 characters of [A-Za-z0-9._:-] "
				 "without '..'%s",
			 json_is_string(v) ? "" : ", not a non-string value");
		return false;
	}
	return true;
}

/* An optional integer field in [lo, hi]; absent or null is fine. label names it in err. */
static bool check_int_as(const json_t *obj, const char *key, const char *label, long long lo,
			 long long hi, char *err, size_t n)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v)) {
		snprintf(err, n, "field '%s' must be an integer from %lld to %lld, not %s", label, lo,
			 hi, json_kind(v));
		return false;
	}
	if (json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, n, "field '%s' must be an integer from %lld to %lld, not %lld", label,
			 lo, hi, (long long)json_integer_value(v));
		return false;
	}
	return true;
}

static bool check_int(const json_t *obj, const char *key, long long lo, long long hi, char *err,
		      size_t n)
{
	return check_int_as(obj, key, key, lo, hi, err, n);
}

static bool check_bool(const json_t *obj, const char *key, char *err, size_t n)
{
	json_t *v = json_object_get(obj, key);
	if (v && !json_is_null(v) && !json_is_boolean(v)) {
		snprintf(err, n, "field '%s' must be true or false, not %s", key, json_kind(v));
		return false;
	}
	return true;
}

static bool check_command(const json_t *v, char *err, size_t n)
{
	if (!v) {
		snprintf(err, n, "field 'command' is missing");
		return false;
	}
	if (json_is_string(v)) {
		if (json_string_length(v) == 0 || strspn(json_string_value(v), " \t") ==
							  json_string_length(v)) {
			snprintf(err, n, "field 'command' is an empty string");
			return false;
		}
		return true;
	}
	if (!json_is_array(v)) {
		snprintf(err, n, "field 'command' must be an array of strings or a string, not %s",
			 json_kind(v));
		return false;
	}
	if (json_array_size(v) == 0) {
		snprintf(err, n, "field 'command' is an empty array");
		return false;
	}
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			snprintf(err, n, "field 'command' element %zu must be a string, not %s", i,
				 json_kind(e));
			return false;
		}
		if (json_string_length(e) > EXEC_STRING_MAX) {
			snprintf(err, n,
				 "field 'command' element %zu is %zu bytes; exec refuses an argument "
				 "over %d bytes (E2BIG): pass large data in a file",
				 i, json_string_length(e), EXEC_STRING_MAX);
			return false;
		}
	}
	if (json_string_length(json_array_get(v, 0)) == 0) {
		snprintf(err, n, "field 'command' element 0 (the program) is empty");
		return false;
	}
	return true;
}

static bool check_env(const json_t *v, char *err, size_t n)
{
	if (!v || json_is_null(v))
		return true;
	if (!json_is_object(v)) {
		snprintf(err, n, "field 'env' must be an object of strings, not %s", json_kind(v));
		return false;
	}
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)v, key, val)
	{
		if (!*key || strchr(key, '=')) {
			snprintf(err, n, "field 'env' has an invalid variable name '%s' (empty or with '=')",
				 key);
			return false;
		}
		if (!json_is_string(val)) {
			snprintf(err, n, "field 'env' value of '%s' must be a string, not %s", key,
				 json_kind(val));
			return false;
		}
		if (strlen(key) + 1 + json_string_length(val) > EXEC_STRING_MAX) {
			snprintf(err, n,
				 "field 'env' variable '%.64s' is %zu bytes; exec refuses an environment "
				 "string over %d bytes (E2BIG): pass large data in a file",
				 key, strlen(key) + 1 + json_string_length(val), EXEC_STRING_MAX);
			return false;
		}
	}
	return true;
}

/* inheritEnv: true, false, or an array of variable names (common/envfilter.h). */
static bool check_inherit_env(const json_t *v, char *err, size_t n)
{
	if (!v || json_is_null(v) || json_is_boolean(v))
		return true;
	if (!json_is_array(v)) {
		snprintf(err, n, "field 'inheritEnv' must be true, false or an array of variable "
				 "names, not %s",
			 json_kind(v));
		return false;
	}
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e)) {
			snprintf(err, n, "field 'inheritEnv' element %zu must be a string, not %s", i,
				 json_kind(e));
			return false;
		}
		if (!envfilter_name_valid(json_string_value(e))) {
			snprintf(err, n, "field 'inheritEnv' element %zu '%.64s' is not a variable name "
					 "([A-Za-z_][A-Za-z0-9_]*, or a prefix ending in '*')",
				 i, json_string_value(e));
			return false;
		}
	}
	return true;
}

/* healthCheck.expect: "any" (the default: any HTTP status means healthy), "2xx-3xx", or a
 * non-empty array of status codes. */
static bool check_expect(const json_t *v, char *err, size_t n)
{
	static const char usage[] = "field 'healthCheck.expect' must be \"any\", \"2xx-3xx\" or a "
				    "non-empty array of HTTP status codes (100-599)";
	if (!v || json_is_null(v))
		return true;
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strcmp(s, "any") == 0 || strcmp(s, "2xx-3xx") == 0)
			return true;
		snprintf(err, n, "%s, not '%.40s'", usage, s);
		return false;
	}
	bool ok = json_is_array(v) && json_array_size(v) > 0 && json_array_size(v) <= 500;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		ok = ok && json_is_integer(e) && json_integer_value(e) >= 100 &&
		     json_integer_value(e) <= 599;
	}
	if (!ok)
		snprintf(err, n, "%s", usage);
	return ok;
}

static bool check_health(const json_t *v, char *err, size_t n)
{
	if (!v || json_is_null(v))
		return true;
	if (!json_is_object(v)) {
		snprintf(err, n, "field 'healthCheck' must be an object, not %s", json_kind(v));
		return false;
	}
	json_t *path = json_object_get(v, "path");
	if (path) {
		const char *s = json_string_value(path);
		if (!s || s[0] != '/' || strpbrk(s, " \t\r\n")) {
			snprintf(err, n, "field 'healthCheck.path' must be a string starting with '/' "
					 "without spaces");
			return false;
		}
		if (json_string_length(path) > HEALTH_PATH_MAX) {
			snprintf(err, n,
				 "field 'healthCheck.path' is %zu bytes, over the limit of %d: use a "
				 "shorter path",
				 json_string_length(path), HEALTH_PATH_MAX);
			return false;
		}
	}
	return check_fields(v, health_fields, "healthCheck.", err, n) &&
	       check_expect(json_object_get(v, "expect"), err, n) &&
	       check_int_as(v, "timeoutMs", "healthCheck.timeoutMs", 1, TIMEOUT_MAX_MS, err, n);
}

/* The size contract of docs/control-channel.md: the `start` message the reaper receives is the
 * spec plus type, runnerId, port, logs and listenTrap, counted here at their widest, and must
 * fit in one control-channel message. The error names the largest field: what to shrink. */
static bool check_fits_channel(const json_t *spec, char *err, size_t n)
{
	char runner[RUNNER_ID_MAX + 1];
	memset(runner, 'r', RUNNER_ID_MAX);
	runner[RUNNER_ID_MAX] = '\0';
	json_t *msg = json_copy((json_t *)spec);
	json_object_set_new(msg, "type", json_string("start"));
	json_object_set_new(msg, "runnerId", json_string(runner));
	json_object_set_new(msg, "port", json_integer(65535));
	json_object_set_new(msg, "logs", json_true());
	json_object_set_new(msg, "listenTrap", json_false());
	size_t size = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	bool fits = size <= CHAN_MSG_MAX;
	if (!fits) {
		const char *key, *largest = "command";
		size_t most = 0;
		json_t *v;
		json_object_foreach(msg, key, v)
		{
			size_t sz = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
			if (sz > most) {
				most = sz;
				largest = key;
			}
		}
		snprintf(err, n,
			 "field '%s' makes the start %zu bytes for the reaper, over the limit of "
			 "%d bytes: pass less in env or command (large data belongs in a file)",
			 largest, size, CHAN_MSG_MAX);
	}
	json_decref(msg);
	return fits;
}

/* limits (SPEC §9): {memoryBytes: a positive integer}; absent or null is none. */
static bool check_limits(const json_t *v, char *err, size_t n)
{
	if (!v || json_is_null(v))
		return true;
	if (!json_is_object(v)) {
		snprintf(err, n, "field 'limits' must be an object such as {\"memoryBytes\": "
				 "536870912}, not %s",
			 json_kind(v));
		return false;
	}
	const char *key;
	json_t *e;
	json_object_foreach((json_t *)v, key, e)
	{
		if (strcmp(key, "memoryBytes") != 0) {
			snprintf(err, n, "field 'limits.%s' is not a limit devsup knows (known: "
					 "memoryBytes)",
				 key);
			return false;
		}
	}
	/* at least a page; at most 2^53, what a JSON number holds exactly */
	return check_int_as(v, "memoryBytes", "limits.memoryBytes", 4096, 9007199254740992LL,
			    err, n);
}

json_t *command_validate_start(const json_t *req, char *err, size_t n)
{
	static const char *const frameworks[] = {"auto", "next", "vite", "other"};
	json_t *cwd = json_object_get(req, "cwd");
	json_t *fw = json_object_get(req, "framework");
	json_t *tunnel = json_object_get(req, "tunnel");
	if (!check_fields(req, start_fields, "", err, n) ||
	    (json_is_object(tunnel) && !check_fields(tunnel, tunnel_fields, "tunnel.", err, n)) ||
	    !check_project_id(json_object_get(req, "projectId"), err, n) ||
	    !check_command(json_object_get(req, "command"), err, n))
		return NULL;
	if (!cwd) {
		snprintf(err, n, "field 'cwd' is missing");
		return NULL;
	}
	if (!json_is_string(cwd) || json_string_value(cwd)[0] != '/') {
		snprintf(err, n, "field 'cwd' must be an absolute path (a string starting with '/')");
		return NULL;
	}
	if (!check_int(req, "port", 1, 65535, err, n) || !check_bool(req, "strictPort", err, n) ||
	    !check_env(json_object_get(req, "env"), err, n) ||
	    !check_inherit_env(json_object_get(req, "inheritEnv"), err, n) ||
	    !check_health(json_object_get(req, "healthCheck"), err, n) ||
	    !check_int(req, "stopTimeoutMs", 0, TIMEOUT_MAX_MS, err, n) ||
	    !check_bool(req, "logs", err, n) || !check_bool(req, "listenTrap", err, n) ||
	    !check_limits(json_object_get(req, "limits"), err, n))
		return NULL;
	const char *framework = "auto";
	if (fw && !json_is_null(fw)) {
		bool known = false;
		for (size_t i = 0; i < ARRAY_LEN(frameworks) && json_is_string(fw); i++)
			known = known || strcmp(json_string_value(fw), frameworks[i]) == 0;
		if (!known) {
			snprintf(err, n, "field 'framework' must be one of auto, next, vite, other");
			return NULL;
		}
		framework = json_string_value(fw);
	}
	json_t *tspec;
	if (!tunnel_config_resolve(tunnel, &tspec, err, n))
		return NULL;
	json_t *spec = json_pack("{s:O, s:O, s:O, s:s, s:b, s:b}", "projectId",
				 json_object_get(req, "projectId"), "command",
				 json_object_get(req, "command"), "cwd", cwd, "framework", framework,
				 "strictPort", json_is_true(json_object_get(req, "strictPort")), "logs",
				 json_is_true(json_object_get(req, "logs")));
	json_t *v;
	if ((v = json_object_get(req, "port")) && json_is_integer(v))
		json_object_set(spec, "port", v);
	if ((v = json_object_get(req, "env")) && json_is_object(v))
		json_object_set(spec, "env", v);
	if ((v = json_object_get(req, "stopTimeoutMs")) && json_is_integer(v))
		json_object_set(spec, "stopTimeoutMs", v);
	if (tspec)
		json_object_set_new(spec, "tunnel", tspec);
	/* The reaper gets the policy resolved: the start's own, else --env-allow, else all. */
	v = json_object_get(req, "inheritEnv");
	if (!v || json_is_null(v))
		v = cmd.opts ? cmd.opts->env_allow : NULL;
	if (v)
		json_object_set(spec, "inheritEnv", v);
	if (json_is_false(json_object_get(req, "listenTrap")))
		json_object_set_new(spec, "listenTrap", json_false());
	if ((v = json_object_get(json_object_get(req, "limits"), "memoryBytes")) &&
	    json_is_integer(v))
		json_object_set(spec, "memoryBytes", v);
	json_t *hc = json_object_get(req, "healthCheck");
	if ((v = json_object_get(hc, "path")))
		json_object_set(spec, "healthPath", v);
	if ((v = json_object_get(hc, "timeoutMs")) && json_is_integer(v))
		json_object_set(spec, "healthTimeoutMs", v);
	if ((v = json_object_get(hc, "expect")) && !json_is_null(v) &&
	    !(json_is_string(v) && strcmp(json_string_value(v), "any") == 0))
		json_object_set(spec, "healthExpect", v);
	if (!check_fits_channel(spec, err, n)) {
		json_decref(spec);
		return NULL;
	}
	return spec;
}

/* The path of the first string holding a NUL byte (JSON "\u0000"), e.g. "command[1]" or
 * "env.HOME"; NULs are parsed so the error can name the field, then refused here. */
static bool find_nul(const json_t *v, char *path, size_t n)
{
	size_t len = strlen(path);
	if (json_is_string(v))
		return strlen(json_string_value(v)) != json_string_length(v);
	if (json_is_array(v)) {
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e)
		{
			snprintf(path + len, n - len, "[%zu]", i);
			if (find_nul(e, path, n))
				return true;
		}
	} else if (json_is_object(v)) {
		const char *key;
		json_t *e;
		json_object_foreach((json_t *)v, key, e)
		{
			snprintf(path + len, n - len, "%s%s", len ? "." : "", key);
			if (find_nul(e, path, n))
				return true;
		}
	}
	path[len] = '\0';
	return false;
}

/* Handlers: each validates its fields and answers exactly once. */

static void invalid(const json_t *c, json_t *id, const char *err)
{
	const char *pid = json_string_value(json_object_get(c, "projectId"));
	reply_error(pid && project_id_valid(pid) ? pid : NULL, id, REASON_INVALID_COMMAND, NULL,
		    "%s", err);
}

static void handle_start(json_t *c, json_t *id)
{
	char err[256];
	json_t *spec = command_validate_start(c, err, sizeof(err));
	if (!spec) {
		invalid(c, id, err);
		return;
	}
	json_t *request = json_deep_copy(c);
	json_object_del(request, "type");
	json_object_del(request, "id");
	project_cmd_start(request, spec, id);
	json_decref(request);
	json_decref(spec);
}

static void handle_stop(json_t *c, json_t *id)
{
	char err[256];
	if (!check_fields(c, stop_fields, "", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	json_t *reason = json_object_get(c, "reason");
	if (!check_project_id(json_object_get(c, "projectId"), err, sizeof(err)) ||
	    !check_int(c, "timeoutMs", 0, TIMEOUT_MAX_MS, err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	if (reason && !json_is_null(reason) && !json_is_string(reason)) {
		invalid(c, id, "field 'reason' must be a string");
		return;
	}
	project_cmd_stop(json_string_value(json_object_get(c, "projectId")),
			 json_object_get(c, "timeoutMs"), json_string_value(reason), id);
}

static void handle_restart(json_t *c, json_t *id)
{
	char err[256];
	if (!check_fields(c, start_fields, "", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	if (!check_project_id(json_object_get(c, "projectId"), err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	project_cmd_restart(json_string_value(json_object_get(c, "projectId")), c, id);
}

static void handle_status(json_t *c, json_t *id)
{
	char err[256];
	if (!check_fields(c, status_fields, "", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	json_t *pid = json_object_get(c, "projectId");
	if (pid && !json_is_null(pid) && !check_project_id(pid, err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	project_cmd_status(json_string_value(pid), id);
}

static void handle_logs(json_t *c, json_t *id)
{
	char err[256];
	if (!check_fields(c, logs_fields, "", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	if (!check_project_id(json_object_get(c, "projectId"), err, sizeof(err)) ||
	    !check_int(c, "lines", 1, 100000, err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	json_t *lines = json_object_get(c, "lines");
	project_cmd_logs(json_string_value(json_object_get(c, "projectId")),
			 json_is_integer(lines) ? (size_t)json_integer_value(lines) : 100, id);
}

static void handle_follow_logs(json_t *c, json_t *id)
{
	char err[256];
	if (!check_fields(c, follow_fields, "", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	if (!check_project_id(json_object_get(c, "projectId"), err, sizeof(err)) ||
	    !check_bool(c, "follow", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	json_t *follow = json_object_get(c, "follow");
	project_cmd_follow_logs(json_string_value(json_object_get(c, "projectId")),
				!json_is_false(follow), id);
}

/* ping and metrics take no field of their own. */
static bool bare_ok(json_t *c, json_t *id)
{
	char err[256];
	if (check_fields(c, bare_fields, "", err, sizeof(err)))
		return true;
	invalid(c, id, err);
	return false;
}

static void handle_ping(json_t *c, json_t *id)
{
	if (!bare_ok(c, id))
		return;
	json_t *ev = event_new("pong", NULL, id);
	json_object_set_new(ev, "version", json_string(DEVSUP_VERSION));
	json_object_set_new(ev, "uptimeMs", json_integer((json_int_t)(clock_ms() - cmd.started_ms)));
	output_event(ev);
}

static void handle_metrics(json_t *c, json_t *id)
{
	if (!bare_ok(c, id))
		return;
	json_t *ev = event_new("metrics", NULL, id);
	json_t *m = metrics_json();
	json_object_set_new(m, "liveProjects", json_integer(projects_live_count()));
	json_object_set_new(m, "droppedLogEvents", json_integer((json_int_t)output_dropped_logs()));
	json_object_set_new(m, "persistence", store_status_json());
	json_object_set_new(m, "usage", resources_totals_json());
	json_object_update(ev, m);
	json_decref(m);
	output_event(ev);
}

static void handle_shutdown(json_t *c, json_t *id)
{
	char err[256];
	if (!check_fields(c, shutdown_fields, "", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	if (!check_int(c, "timeoutMs", 0, TIMEOUT_MAX_MS, err, sizeof(err)) ||
	    !check_bool(c, "detach", err, sizeof(err))) {
		invalid(c, id, err);
		return;
	}
	cmd.on_shutdown(id, json_object_get(c, "timeoutMs"),
			json_is_true(json_object_get(c, "detach")));
}

static const struct {
	const char *type;
	void (*handle)(json_t *c, json_t *id);
} handlers[] = {
	{"start-dev-server", handle_start}, {"stop-dev-server", handle_stop},
	{"restart-dev-server", handle_restart}, {"status", handle_status},
	{"logs", handle_logs}, {"follow-logs", handle_follow_logs}, {"ping", handle_ping},
	{"metrics", handle_metrics},
	{"shutdown", handle_shutdown},
};

void command_line_too_long(const char *start, size_t len, size_t max)
{
	json_t *id = line_id_scan(start, len);
	reply_error(NULL, id, REASON_LINE_TOO_LONG, NULL,
		    "an input line was longer than %zu bytes (--max-line) and was ignored", max);
	json_decref(id);
}

void command_handle_line(const char *line, size_t len)
{
	size_t blank = 0;
	while (blank < len && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r'))
		blank++;
	if (blank == len)
		return; /* empty and whitespace-only lines are ignored */
	json_error_t jerr;
	json_t *c = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
			      &jerr);
	if (!c) {
		/* answered with the line's id all the same, so the client's call settles */
		json_t *id = line_id_scan(line, len);
		reply_error(NULL, id, REASON_INVALID_JSON, NULL,
			    "the line is not valid JSON: %s (at byte %d)", jerr.text, jerr.position);
		json_decref(id);
		return;
	}
	command_handle_json(c);
	json_decref(c);
}

void command_handle_json(json_t *c)
{
	if (!json_is_object(c)) {
		reply_error(NULL, NULL, REASON_INVALID_COMMAND, NULL,
			    "a command must be a JSON object, not %s", json_kind(c));
		return;
	}
	json_t *id = json_object_get(c, "id");
	char nul_path[128] = "";
	if (find_nul(c, nul_path, sizeof(nul_path))) {
		bool id_ok = id && ((json_is_string(id) &&
				     strlen(json_string_value(id)) == json_string_length(id)) ||
				    json_is_number(id));
		reply_error(NULL, id_ok ? id : NULL, REASON_INVALID_COMMAND, NULL,
			    "field '%s' contains a NUL byte", nul_path);
		return;
	}
	if (id && !json_is_string(id) && !json_is_number(id)) {
		reply_error(NULL, NULL, REASON_INVALID_COMMAND, NULL,
			    "field 'id' must be a string or a number, not %s", json_kind(id));
		return;
	}
	json_t *type = json_object_get(c, "type");
	if (!json_is_string(type)) {
		invalid(c, id, type ? "field 'type' must be a string" : "field 'type' is missing");
		return;
	}
	const char *t = json_string_value(type);
	for (size_t i = 0; i < ARRAY_LEN(handlers); i++) {
		if (strcmp(t, handlers[i].type) == 0) {
			handlers[i].handle(c, id);
			return;
		}
	}
	const char *types[ARRAY_LEN(handlers) + 1];
	for (size_t i = 0; i < ARRAY_LEN(handlers); i++)
		types[i] = handlers[i].type;
	types[ARRAY_LEN(handlers)] = NULL;
	char shown[64];
	snprintf(shown, sizeof(shown), "%s", t);
	reply_error(NULL, id, REASON_UNKNOWN_COMMAND, NULL, "unknown command '%s'; did you mean '%s'?",
		    shown, command_closest_field(t, types));
}
