#include "supervisor/tunnel_config.h"

#include <regex.h>
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

static bool regex_ok(const char *pattern)
{
	regex_t re;
	if (regcomp(&re, pattern, REG_EXTENDED) != 0)
		return false;
	regfree(&re);
	return true;
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
		if (!pattern || !*pattern || !regex_ok(pattern)) {
			snprintf(err, n, "field 'tunnel.urlPattern' must be a valid POSIX extended regular "
					 "expression for the custom provider");
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
