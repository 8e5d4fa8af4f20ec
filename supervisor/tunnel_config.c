#include "supervisor/tunnel_config.h"

#include <ctype.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_RETRIES 2

typedef struct {
	const char *name;
	const char *bin;
	const char *argv[8];
	const char *pattern; /* group 1 is the URL */
	const char *require;
	const char *fatal;
} provider_t;

/* Patterns for the real clients' output (shared/tunnel-samples). cloudflared: the row of its
 * box, with a hostname of hyphenated words, so its own "api.trycloudflare.com" in error lines
 * can never match. ngrok: the url field of the "started tunnel" line, JSON or logfmt. */
static const provider_t providers[] = {
	{"cloudflared", "cloudflared",
	 {"tunnel", "--url", "{url}", "--no-autoupdate", "--grace-period", "2s", NULL},
	 "\\|[[:space:]]+(https://[a-z0-9]+(-[a-z0-9]+)+\\.trycloudflare\\.com)[[:space:]]*\\|", NULL,
	 NULL},
	{"ngrok", "ngrok", {"http", "{port}", "--log", "stdout", "--log-format", "json", NULL},
	 "url\"?[:=]\"?(https://[^\" ]+)", "started tunnel",
	 "ERR_NGROK_4018|requires a verified account and authtoken|authtoken"},
	{"localtunnel", "lt", {"--port", "{port}", NULL}, "your url is: (https://[^[:space:]]+)", NULL,
	 NULL},
};

static const options_t *tc_opts;

void tunnel_config_init(const options_t *opts)
{
	tc_opts = opts;
}

static const char *provider_bin(const provider_t *p)
{
	for (unsigned i = 0; tc_opts && i < tc_opts->n_tunnel_bins; i++)
		if (strcmp(tc_opts->tunnel_bins[i].provider, p->name) == 0)
			return tc_opts->tunnel_bins[i].path;
	return p->bin;
}

/* glibc's regcomp copies a repeated atom once per bound ({m,n}: n copies, + and *: two), so a
 * short pattern such as (a{1000}){1000} builds a million nodes and takes ~200 MB in the master.
 * re_cost is an upper bound on those copies, computed before regcomp ever sees the pattern. A
 * bracket expression counts more than a character: with classes it is a charset, not a byte. */
#define RE_MAX_LEN 4096
#define RE_MAX_COST 16384
#define RE_MAX_DEPTH 32
#define RE_BRACKET_COST 16

static size_t cost_mul(size_t a, size_t b)
{
	return b && a > (RE_MAX_COST + 1) / b ? RE_MAX_COST + 1 : a * b;
}

static size_t cost_add(size_t a, size_t b)
{
	return a + b > RE_MAX_COST ? RE_MAX_COST + 1 : a + b;
}

/* Index of the ']' that closes the bracket expression opening at p[i] (or of the final NUL). */
static size_t bracket_end(const char *p, size_t i)
{
	i++;
	if (p[i] == '^')
		i++;
	if (p[i] == ']')
		i++;
	while (p[i] && p[i] != ']') {
		if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '=' || p[i + 1] == '.')) {
			const char *close = strchr(p + i + 2, ']');
			i = close ? (size_t)(close - p) : strlen(p) - 1;
		}
		i++;
	}
	return i;
}

/* Parses {m}, {m,} or {m,n} at p[i]; returns how many copies of the atom it makes, 0 if p[i]
 * does not start a valid bound (then it is a literal brace), and sets *end to its last index. */
static size_t bound_copies(const char *p, size_t i, size_t *end)
{
	size_t m = 0, n = 0, j = i + 1;
	bool has_n = false, comma = false;
	if (!isdigit((unsigned char)p[j]))
		return 0;
	for (; isdigit((unsigned char)p[j]); j++)
		m = cost_add(cost_mul(m, 10), (size_t)(p[j] - '0'));
	if (p[j] == ',') {
		comma = true;
		for (j++; isdigit((unsigned char)p[j]); j++, has_n = true)
			n = cost_add(cost_mul(n, 10), (size_t)(p[j] - '0'));
	}
	if (p[j] != '}')
		return 0;
	*end = j;
	size_t copies = has_n ? n : comma ? m + 1 : m;
	return copies ? copies : 1;
}

static size_t re_cost(const char *p, bool *backref)
{
	struct {
		size_t total, last;
	} st[RE_MAX_DEPTH + 1] = {{0, 0}};
	unsigned d = 0;
	for (size_t i = 0; p[i] && st[d].total <= RE_MAX_COST; i++) {
		size_t atom = 1, k, end;
		switch (p[i]) {
		case '\\':
			if (p[i + 1] >= '1' && p[i + 1] <= '9')
				*backref = true;
			if (p[i + 1])
				i++;
			break;
		case '[':
			i = bracket_end(p, i);
			if (!p[i])
				return st[d].total;
			atom = RE_BRACKET_COST;
			break;
		case '(':
			if (d == RE_MAX_DEPTH)
				return RE_MAX_COST + 1;
			st[++d].total = 0;
			st[d].last = 0;
			continue;
		case ')':
			if (d == 0)
				break;
			atom = cost_add(st[d--].total, 1);
			break;
		case '|':
			st[d].last = 0;
			continue;
		case '*':
		case '+':
		case '?':
			st[d].total = cost_add(st[d].total, st[d].last);
			st[d].last = cost_mul(st[d].last, 2);
			continue;
		case '{':
			if ((k = bound_copies(p, i, &end)) == 0)
				break;
			st[d].total = cost_add(st[d].total, cost_mul(st[d].last, k - 1));
			st[d].last = cost_mul(st[d].last, k);
			i = end;
			continue;
		default:
			break;
		}
		st[d].total = cost_add(st[d].total, atom);
		st[d].last = atom;
	}
	for (; d > 0; d--)
		st[d - 1].total = cost_add(st[d - 1].total, st[d].total);
	return st[0].total;
}

/* NULL if the pattern is a usable POSIX ERE, else what is wrong with it. */
static const char *regex_problem(const char *pattern)
{
	if (!pattern || !*pattern)
		return "is missing";
	if (strlen(pattern) > RE_MAX_LEN)
		return "is longer than 4096 bytes";
	bool backref = false;
	size_t cost = re_cost(pattern, &backref);
	if (backref) /* matching with one is exponential in the line's length */
		return "uses a back-reference (\\1 to \\9), which a URL pattern does not need";
	if (cost > RE_MAX_COST)
		return "repeats too much (its repetitions would expand to more than 16384 copies; use + "
		       "or * instead of large {m,n} bounds)";
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED) != 0)
		return "is not a valid POSIX extended regular expression";
	regfree(&re);
	return NULL;
}

static bool get_count(const json_t *t, const char *key, long long lo, long long hi,
		      long long dflt, long long *out, char *err, size_t n)
{
	json_t *v = json_object_get(t, key);
	*out = dflt;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		snprintf(err, n, "field 'tunnel.%s' must be an integer from %lld to %lld", key, lo, hi);
		return false;
	}
	*out = json_integer_value(v);
	return true;
}

bool tunnel_config_resolve(const json_t *tunnel, json_t **out, char *err, size_t n)
{
	*out = NULL;
	if (!tunnel || json_is_null(tunnel) || json_is_false(tunnel))
		return true;
	const char *name = NULL;
	if (json_is_true(tunnel)) {
		name = tc_opts ? tc_opts->tunnel_default : "cloudflared";
	} else if (json_is_object(tunnel)) {
		name = json_string_value(json_object_get(tunnel, "provider"));
		if (!name) {
			snprintf(err, n, "field 'tunnel.provider' is missing (cloudflared, ngrok, "
					 "localtunnel or custom)");
			return false;
		}
	} else {
		snprintf(err, n, "field 'tunnel' must be true, false or an object");
		return false;
	}
	long long timeout, retries;
	if (!get_count(tunnel, "timeoutMs", 1, 600000, DEFAULT_TIMEOUT_MS, &timeout, err, n) ||
	    !get_count(tunnel, "retries", 0, 100, DEFAULT_RETRIES, &retries, err, n))
		return false;
	json_t *spec = json_pack("{s:s, s:I, s:I}", "provider", name, "timeoutMs",
				 (json_int_t)timeout, "retries", (json_int_t)retries);
	if (strcmp(name, "custom") == 0) {
		json_t *cmd = json_object_get(tunnel, "command");
		const char *pattern = json_string_value(json_object_get(tunnel, "urlPattern"));
		bool strings = json_is_array(cmd) && json_array_size(cmd) > 0;
		size_t i;
		json_t *e;
		json_array_foreach(cmd, i, e) strings = strings && json_is_string(e);
		if (!strings || !json_string_length(json_array_get(cmd, 0))) {
			snprintf(err, n, "field 'tunnel.command' must be a non-empty array of strings for "
					 "the custom provider");
			goto bad;
		}
		const char *problem = regex_problem(pattern);
		if (problem) {
			snprintf(err, n, "field 'tunnel.urlPattern' %s; the custom provider needs a POSIX "
					 "extended regular expression whose group 1 is the URL", problem);
			goto bad;
		}
		json_object_set(spec, "argv", cmd);
		json_object_set_new(spec, "pattern", json_string(pattern));
		*out = spec;
		return true;
	}
	for (size_t i = 0; i < ARRAY_LEN(providers); i++) {
		const provider_t *p = &providers[i];
		if (strcmp(name, p->name) != 0)
			continue;
		json_t *argv = json_pack("[s]", provider_bin(p));
		for (size_t k = 0; p->argv[k]; k++)
			json_array_append_new(argv, json_string(p->argv[k]));
		json_object_set_new(spec, "argv", argv);
		json_object_set_new(spec, "pattern", json_string(p->pattern));
		if (p->require)
			json_object_set_new(spec, "require", json_string(p->require));
		if (p->fatal)
			json_object_set_new(spec, "fatal", json_string(p->fatal));
		*out = spec;
		return true;
	}
	snprintf(err, n, "field 'tunnel.provider' '%s' is unknown: use cloudflared, ngrok, "
			 "localtunnel or custom", name);
bad:
	json_decref(spec);
	return false;
}

bool tunnel_config_provider(const char *name, const char **pattern, const char **require,
			    const char **fatal)
{
	for (size_t i = 0; i < ARRAY_LEN(providers); i++) {
		if (strcmp(name, providers[i].name) == 0) {
			*pattern = providers[i].pattern;
			*require = providers[i].require;
			*fatal = providers[i].fatal;
			return true;
		}
	}
	return false;
}
