/* The terminal front end's commands: typed words -> protocol commands, help, suggestions. */
#include "supervisor/tty_commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/util.h"
#include "supervisor/tty_flags.h"

/* --- project ids ------------------------------------------------------------------------ */

/* A typed word as a message quotes it: its first 64 bytes, cut between characters (a byte
 * count alone would cut a CJK character in half). */
static const char *quoted(const char *word, char buf[68])
{
	size_t n = utf8_cut(word, strlen(word), 64);
	memcpy(buf, word, n);
	buf[n] = '\0';
	return buf;
}

void tty_no_project(const char *id, const char *const *ids, size_t nids, char *err,
		    size_t errlen)
{
	char q[68];
	const char *near = tty_suggest_among(id, ids, nids);
	if (near) {
		snprintf(err, errlen, "no project '%s' — did you mean '%s'?", quoted(id, q), near);
		return;
	}
	if (!project_id_valid(id)) { /* no start could make it one */
		snprintf(err, errlen, "no project '%s': a project id is 1 to 128 of A-Z a-z 0-9 "
				      ". _ : -",
			 quoted(id, q));
		return;
	}
	if (nids == 0) {
		snprintf(err, errlen, "no project '%s': none was started yet (start %s -- CMD "
				      "ARGS...)",
			 id, id);
		return;
	}
	size_t n = (size_t)snprintf(err, errlen, "no project '%s'; the projects are", id);
	for (size_t i = 0; i < nids && n < errlen; i++)
		n += (size_t)snprintf(err + n, errlen - n, "%s %s", i ? "," : "", ids[i]);
}

/* id into out unless there already: `stop all web` stops web once, not a second time to
 * be told it is not running. */
static void append_once(json_t *out, const char *id)
{
	size_t i;
	json_t *v;
	json_array_foreach(out, i, v)
	{
		if (strcmp(json_string_value(v), id) == 0)
			return;
	}
	json_array_append_new(out, json_string(id));
}

/* Adds the project `word` names to out (a JSON array of ids, each once): `all` is every known
 * project (every live one when live_only); an unknown id is refused with a suggestion. */
static bool add_target(const tty_ctx_t *ctx, const char *word, bool live_only, json_t *out,
		       char *err, size_t errlen)
{
	if (!ctx->ids) {
		append_once(out, word);
		return true;
	}
	if (strcmp(word, "all") == 0) {
		for (size_t i = ctx->nids; i-- > 0;)
			if (!live_only || (ctx->live && ctx->live[i]))
				append_once(out, ctx->ids[i]);
		return true;
	}
	for (size_t i = 0; i < ctx->nids; i++)
		if (strcmp(ctx->ids[i], word) == 0) {
			append_once(out, word);
			return true;
		}
	tty_no_project(word, ctx->ids, ctx->nids, err, errlen);
	return false;
}

static bool is_id_word(const tty_ctx_t *ctx, const char *w)
{
	if (strcmp(w, "all") == 0)
		return true;
	for (size_t i = 0; ctx->ids && i < ctx->nids; i++)
		if (strcmp(ctx->ids[i], w) == 0)
			return true;
	return false;
}

/* `verb ID... [flags]`: the ids (every word that is not a flag or a flag's value, given by
 * takes_value) into a new array, or NULL with err. */
static json_t *targets(const tty_ctx_t *ctx, int argc, char **argv, bool live_only,
		       bool (*takes_value)(const char *flag), char *err, size_t errlen)
{
	json_t *ids = json_array();
	int typed = 0;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] == '-') {
			if (takes_value && takes_value(argv[i]) && !strchr(argv[i], '='))
				i++;
			continue;
		}
		typed++;
		if (!add_target(ctx, argv[i], live_only, ids, err, errlen))
			goto bad;
	}
	if (typed == 0) {
		snprintf(err, errlen, "%s needs a project id (or all): help %s", argv[0], argv[0]);
		goto bad;
	}
	if (json_array_size(ids) == 0) {
		snprintf(err, errlen, "%s all: no project is %s", argv[0],
			 live_only ? "running" : "known yet");
		goto bad;
	}
	return ids;
bad:
	json_decref(ids);
	return NULL;
}

static bool stop_takes_value(const char *flag)
{
	return strcmp(flag, "--timeout") == 0;
}

static bool logs_takes_value(const char *flag)
{
	return strcmp(flag, "-n") == 0 || strcmp(flag, "--lines") == 0;
}

/* Each id of ids as a copy of cmd with that projectId, into a new array. */
static json_t *per_target(json_t *cmd, json_t *ids)
{
	json_t *cmds = json_array(), *id;
	size_t i;
	json_array_foreach(ids, i, id)
	{
		json_t *c = json_deep_copy(cmd);
		json_object_set(c, "projectId", id);
		json_array_append_new(cmds, c);
	}
	return cmds;
}

static json_t *build_stop(const tty_ctx_t *ctx, int argc, char **argv, char *err,
			  size_t errlen)
{
	json_t *cmd = json_pack("{s:s}", "type", "stop-dev-server"), *ids = NULL, *cmds = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v;
		long long ms;
		if (argv[i][0] != '-')
			continue;
		if (!tty_flag_is(argv[i], "--timeout")) {
			tty_flag_unknown(argv[i], "stop", tty_stop_flags.names, tty_stop_flags.n, err, errlen);
			goto out;
		}
		if (!(v = tty_flag_value(argc, argv, &i, "--timeout", err, errlen)))
			goto out;
		if (!tty_parse_seconds_ms(v, 3600, &ms)) {
			snprintf(err, errlen, "--timeout '%s': expected seconds from 0 to 3600", v);
			goto out;
		}
		json_object_set_new(cmd, "timeoutMs", json_integer((json_int_t)ms));
	}
	if ((ids = targets(ctx, argc, argv, true, stop_takes_value, err, errlen)))
		cmds = per_target(cmd, ids);
out:
	json_decref(ids);
	json_decref(cmd);
	return cmds;
}

/* `logs ID... [-n N] [-f]`: a logs command per project, then a follow-logs each when -f. */
static json_t *build_logs(const tty_ctx_t *ctx, int argc, char **argv, char *err,
			  size_t errlen)
{
	json_t *logs = json_pack("{s:s}", "type", "logs"), *ids = NULL, *cmds = NULL;
	bool follow = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		long long n;
		if (a[0] != '-')
			continue;
		if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			follow = true;
		} else if (strcmp(a, "-n") == 0 || tty_flag_is(a, "--lines")) {
			if (!(v = tty_flag_value(argc, argv, &i, a[1] == 'n' ? "-n" : "--lines", err,
					     errlen)))
				goto out;
			if (!tty_parse_int(v, 1, 100000, &n)) {
				snprintf(err, errlen, "-n '%s': expected a number of lines from 1 to "
						      "100000",
					 v);
				goto out;
			}
			json_object_set_new(logs, "lines", json_integer((json_int_t)n));
		} else {
			tty_flag_unknown(a, "logs", tty_logs_flags.names, tty_logs_flags.n, err, errlen);
			goto out;
		}
	}
	if (!(ids = targets(ctx, argc, argv, false, logs_takes_value, err, errlen)))
		goto out;
	cmds = per_target(logs, ids);
	if (follow) {
		json_t *f = json_pack("{s:s, s:b}", "type", "follow-logs", "follow", 1);
		json_t *follows = per_target(f, ids);
		json_array_extend(cmds, follows);
		json_decref(follows);
		json_decref(f);
	}
out:
	json_decref(ids);
	json_decref(logs);
	return cmds;
}

/* `restart ID... [options]`: the leading known ids (or all) share the options. Without a
 * registry to check against, only the first word is an id (a command may follow it). */
static json_t *build_restart(const tty_ctx_t *ctx, int argc, char **argv, char *err,
			     size_t errlen)
{
	int nid = 1;
	while (ctx->ids && 1 + nid < argc && is_id_word(ctx, argv[1 + nid]))
		nid++;
	if (argc < 2 || argv[1][0] == '-')
		return tty_build_start(argc, argv, ctx->cwd, true, err, errlen);
	json_t *ids = json_array();
	for (int i = 1; i <= nid; i++)
		if (!add_target(ctx, argv[i], false, ids, err, errlen))
			goto bad;
	/* the options after the ids, parsed once as `restart ID options...` */
	char **rest = xcalloc((size_t)(argc - nid + 2), sizeof(*rest));
	rest[0] = argv[0];
	rest[1] = argv[1];
	for (int i = 1 + nid; i < argc; i++)
		rest[i - nid + 1] = argv[i];
	json_t *cmd = tty_build_start(argc - nid + 1, rest, ctx->cwd, true, err, errlen);
	free(rest);
	if (!cmd)
		goto bad;
	json_t *cmds = per_target(cmd, ids);
	json_decref(cmd);
	json_decref(ids);
	return cmds;
bad:
	json_decref(ids);
	return NULL;
}

static void act_print(tty_action_t *out, const char *text, bool error)
{
	out->kind = TTY_ACT_PRINT;
	out->error = error;
	size_t n = strlen(text);
	out->text = xmalloc(n + 2);
	memcpy(out->text, text, n + 1);
	if (n == 0 || text[n - 1] != '\n')
		strcpy(out->text + n, "\n");
}

static void act_send(tty_action_t *out, json_t *cmd)
{
	out->kind = TTY_ACT_SEND;
	out->cmds = json_is_array(cmd) ? cmd : json_pack("[o]", cmd);
}

static void unknown_command(tty_action_t *out, const char *word)
{
	char msg[512], q[68];
	const char *near = tty_suggest(word);
	if (near) {
		snprintf(msg, sizeof(msg), "unknown command '%s' — did you mean '%s'?",
			 quoted(word, q), near);
	} else {
		size_t n = (size_t)snprintf(msg, sizeof(msg), "unknown command '%s'; commands:",
					    quoted(word, q));
		size_t ncmd;
		const char *const *cmds = tty_command_names(&ncmd);
		for (size_t i = 0; i < ncmd && n < sizeof(msg); i++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s %s", i ? "," : "",
					      cmds[i]);
	}
	act_print(out, msg, true);
}

/* `json {...}`: the text after the word, parsed as it is (a shell split would mangle it). */
static void parse_json_command(const char *line, tty_action_t *out)
{
	const char *p = line + strspn(line, " \t");
	p += 4;
	p += strspn(p, " \t");
	if (!*p) {
		act_print(out, "json needs a command object, e.g. json {\"type\":\"ping\"}", true);
		return;
	}
	json_error_t jerr;
	json_t *cmd = json_loads(p, JSON_REJECT_DUPLICATES, &jerr);
	if (!cmd || !json_is_object(cmd)) {
		char msg[300];
		snprintf(msg, sizeof(msg), "json: %s", cmd ? "a command is a JSON object {...}"
							   : jerr.text);
		json_decref(cmd);
		act_print(out, msg, true);
		return;
	}
	act_send(out, cmd);
	out->raw = true;
}

static bool no_args(int argc, char **argv, tty_action_t *out)
{
	if (argc == 1)
		return true;
	char msg[128];
	snprintf(msg, sizeof(msg), "%s takes no arguments", argv[0]);
	act_print(out, msg, true);
	return false;
}

/* `mute ID...|all` / `unmute ...`: out->ids. */
static void parse_mute(const tty_ctx_t *ctx, int argc, char **argv, tty_action_t *out)
{
	char err[512];
	json_t *ids = targets(ctx, argc, argv, false, NULL, err, sizeof(err));
	if (!ids) {
		act_print(out, err, true);
		return;
	}
	out->kind = argv[0][0] == 'm' ? TTY_ACT_MUTE : TTY_ACT_UNMUTE;
	out->ids = ids;
}

/* `up [--file PATH]` / `down [--file PATH]`: out->file, absolute. */
static void parse_up_down(const tty_ctx_t *ctx, int argc, char **argv, tty_action_t *out)
{
	char err[512];
	const char *file = "devsup.json";
	for (int i = 1; i < argc; i++) {
		if (tty_flag_is(argv[i], "--file")) {
			if (!(file = tty_flag_value(argc, argv, &i, "--file", err, sizeof(err)))) {
				act_print(out, err, true);
				return;
			}
		} else {
			if (argv[i][0] == '-')
				tty_flag_unknown(argv[i], argv[0], tty_file_flags.names, tty_file_flags.n, err,
					     sizeof(err));
			else
				snprintf(err, sizeof(err),
					 "%s takes no project ids: %s [--file PATH]", argv[0],
					 argv[0]);
			act_print(out, err, true);
			return;
		}
	}
	out->kind = argv[0][0] == 'u' ? TTY_ACT_UP : TTY_ACT_DOWN;
	out->file = tty_absolute_dir(file, ctx->cwd);
}

static void parse_help(int argc, char **argv, tty_action_t *out)
{
	char err[256], q[68];
	const char *text = tty_help(argc > 1 ? argv[1] : NULL);
	if (text) {
		act_print(out, text, false);
		return;
	}
	const char *near = tty_suggest(argv[1]);
	snprintf(err, sizeof(err), "no help for '%s'%s%s%s", quoted(argv[1], q),
		 near ? " — did you mean '" : "", near ? near : "", near ? "'?" : "");
	act_print(out, err, true);
}

static void parse_status(const tty_ctx_t *ctx, int argc, char **argv, tty_action_t *out)
{
	char err[512];
	if (argc > 2) {
		act_print(out, "status takes at most one project id", true);
		return;
	}
	json_t *ids = argc == 2 ? json_array() : NULL;
	if (ids && (strcmp(argv[1], "all") == 0 || !add_target(ctx, argv[1], false, ids, err,
							       sizeof(err)))) {
		json_decref(ids);
		if (strcmp(argv[1], "all") == 0)
			act_send(out, json_pack("{s:s}", "type", "status"));
		else
			act_print(out, err, true);
		return;
	}
	act_send(out, ids ? json_pack("{s:s, s:O}", "type", "status", "projectId",
				      json_array_get(ids, 0))
			  : json_pack("{s:s}", "type", "status"));
	json_decref(ids);
}

/* A control character (but a tab) in a typed line is a key the editor did not understand,
 * never meant as text: refused, so nothing garbled runs or lands in the history. */
bool tty_line_is_clean(const char *line)
{
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

void tty_parse(const char *line, const tty_ctx_t *ctx, tty_action_t *out)
{
	char err[512] = "", **argv;
	memset(out, 0, sizeof(*out));
	if (!tty_line_is_clean(line)) {
		act_print(out, "the line holds control characters (a key the editor does not "
			       "know?); not run",
			  true);
		return;
	}
	const char *first = line + strspn(line, " \t");
	if (strncmp(first, "json", 4) == 0 && (first[4] == '\0' || strchr(" \t", first[4]))) {
		parse_json_command(line, out);
		return;
	}
	int argc = tty_split(line, &argv, err, sizeof(err));
	if (argc < 0) {
		act_print(out, err, true);
		return;
	}
	json_t *cmd = NULL;
	const char *verb = argc > 0 ? argv[0] : "";
	if (argc == 0) {
		out->kind = TTY_ACT_NONE;
	} else if (strcmp(verb, "start") == 0) {
		cmd = tty_build_start(argc, argv, ctx->cwd, false, err, sizeof(err));
	} else if (strcmp(verb, "restart") == 0) {
		cmd = build_restart(ctx, argc, argv, err, sizeof(err));
	} else if (strcmp(verb, "stop") == 0) {
		cmd = build_stop(ctx, argc, argv, err, sizeof(err));
	} else if (strcmp(verb, "logs") == 0) {
		cmd = build_logs(ctx, argc, argv, err, sizeof(err));
		out->merge = cmd && json_array_size(cmd) > 1 &&
			     strcmp(json_string_value(json_object_get(json_array_get(cmd, 1),
								      "type")),
				    "logs") == 0;
	} else if (strcmp(verb, "status") == 0) {
		parse_status(ctx, argc, argv, out);
	} else if (strcmp(verb, "mute") == 0 || strcmp(verb, "unmute") == 0) {
		parse_mute(ctx, argc, argv, out);
	} else if (strcmp(verb, "up") == 0 || strcmp(verb, "down") == 0) {
		parse_up_down(ctx, argc, argv, out);
	} else if (strcmp(verb, "ping") == 0 || strcmp(verb, "metrics") == 0) {
		if (no_args(argc, argv, out))
			cmd = json_pack("{s:s}", "type", verb);
	} else if (strcmp(verb, "top") == 0) {
		if (no_args(argc, argv, out))
			out->kind = TTY_ACT_TOP;
	} else if (strcmp(verb, "help") == 0 || strcmp(verb, "?") == 0) {
		parse_help(argc, argv, out);
	} else if (strcmp(verb, "detach") == 0) {
		if (no_args(argc, argv, out))
			cmd = json_pack("{s:s, s:b}", "type", "shutdown", "detach", 1);
	} else if (strcmp(verb, "quit") == 0 || strcmp(verb, "exit") == 0 ||
		   strcmp(verb, "quit!") == 0 || strcmp(verb, "exit!") == 0) {
		if (no_args(argc, argv, out)) {
			out->kind = TTY_ACT_QUIT;
			out->force = verb[strlen(verb) - 1] == '!';
		}
	} else {
		unknown_command(out, verb);
	}
	if (cmd)
		act_send(out, cmd);
	else if (out->kind == TTY_ACT_NONE && argc > 0)
		act_print(out, err, true);
	tty_argv_free(argv);
}

void tty_parse_line(const char *line, const char *cwd, tty_action_t *out)
{
	tty_ctx_t ctx = {.cwd = cwd};
	tty_parse(line, &ctx, out);
}

void tty_action_free(tty_action_t *a)
{
	json_decref(a->cmds);
	json_decref(a->ids);
	free(a->file);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

/* --- completion ------------------------------------------------------------------------ */

static int add_matches(const char *word, const char *const *names, size_t n, const char **out,
		       size_t max, int count)
{
	size_t wl = strlen(word);
	for (size_t i = 0; i < n && (size_t)count < max; i++)
		if (strncmp(names[i], word, wl) == 0)
			out[count++] = names[i];
	return count;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int tty_complete_words(const char *before, const char *word, const char *const *ids,
		       size_t nids, const char **out, size_t max)
{
	char err[64], **argv;
	int argc = tty_split(before, &argv, err, sizeof(err));
	int count = 0;
	size_t ncmd;
	const char *const *commands = tty_command_names(&ncmd);
	if (argc < 0)
		return 0; /* inside a quote */
	const char *verb = argc > 0 ? argv[0] : NULL;
	const char *prev = argc > 0 ? argv[argc - 1] : "";
	bool starts = verb && (strcmp(verb, "start") == 0 || strcmp(verb, "restart") == 0);
	bool glued = before[0] && !strchr(" \t", before[strlen(before) - 1]);
	bool after_dashes = false;
	for (int i = 1; i < argc; i++)
		after_dashes = after_dashes || (starts && strcmp(argv[i], "--") == 0);
	if (!verb) {
		count = add_matches(word, commands, ncmd, out, max, 0);
	} else if (after_dashes) {
		count = -1; /* the command's own arguments: file names */
	} else if (glued && ends_with(before, "--tunnel=")) {
		count = add_matches(word, tty_providers.names, tty_providers.n, out, max, 0);
	} else if (glued && ends_with(before, "--framework=")) {
		count = add_matches(word, tty_frameworks.names, tty_frameworks.n, out, max, 0);
	} else if (glued && ends_with(before, "--cwd=")) {
		count = -1;
	} else if (starts && strcmp(prev, "--framework") == 0) {
		count = add_matches(word, tty_frameworks.names, tty_frameworks.n, out, max, 0);
	} else if (starts && strcmp(prev, "--cwd") == 0) {
		count = -1;
	} else if (strcmp(verb, "help") == 0 && argc == 1) {
		count = add_matches(word, commands, ncmd, out, max, 0);
	} else if (word[0] == '-' && starts) {
		count = add_matches(word, tty_start_flags.names, tty_start_flags.n, out, max, 0);
	} else if (word[0] == '-' && strcmp(verb, "stop") == 0) {
		count = add_matches(word, tty_stop_flags.names, tty_stop_flags.n, out, max, 0);
	} else if (word[0] == '-' && strcmp(verb, "logs") == 0) {
		count = add_matches(word, tty_logs_flags.names, tty_logs_flags.n, out, max, 0);
	} else if (word[0] == '-' && (strcmp(verb, "up") == 0 || strcmp(verb, "down") == 0)) {
		count = add_matches(word, tty_file_flags.names, tty_file_flags.n, out, max, 0);
	} else if (strcmp(prev, "--file") == 0 || ends_with(before, "--file=")) {
		count = -1;
	} else if ((argc == 1 && (starts || strcmp(verb, "status") == 0)) ||
		   strcmp(verb, "stop") == 0 || strcmp(verb, "logs") == 0 ||
		   strcmp(verb, "mute") == 0 || strcmp(verb, "unmute") == 0) {
		static const char *const all[] = {"all"};
		count = add_matches(word, ids, nids, out, max, 0);
		if (strcmp(verb, "start") != 0)
			count = add_matches(word, all, 1, out, max, count);
	}
	tty_argv_free(argv);
	return count;
}
