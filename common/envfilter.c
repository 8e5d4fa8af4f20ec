/* The environment hygiene of SPEC §1: what of devsup's environment a spawned process gets. */
#include "common/envfilter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The length of entry's name: up to '=' or the end. */
static size_t name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');
	return eq ? (size_t)(eq - entry) : strlen(entry);
}

static bool name_is(const char *entry, const char *name)
{
	size_t n = strlen(name);
	return name_len(entry) == n && strncmp(entry, name, n) == 0;
}

/* name may end in '*': then entry's name only has to start with what comes before it. */
static bool name_matches(const char *entry, const char *name)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '*')
		return name_len(entry) >= n - 1 && strncmp(entry, name, n - 1) == 0;
	return name_is(entry, name);
}

bool envfilter_is_secret(const char *entry)
{
	/* Every PG + upper-case name rather than today's list: a libpq that learns a new variable
	 * (PGLOADBALANCEHOSTS came with 16) must not leak it. A project that needs one gets it
	 * through the start's `env`. */
	return name_is(entry, "DATABASE_URL") ||
	       (entry[0] == 'P' && entry[1] == 'G' && isupper((unsigned char)entry[2]));
}

bool envfilter_is_devsup(const char *entry)
{
	return strncmp(entry, "DEVSUP_", 7) == 0;
}

bool envfilter_is_basic(const char *entry)
{
	static const char *const basic[] = {"PATH", "HOME", "USER", "LOGNAME", "SHELL",
					    "LANG", "LC_*", "TERM", "TZ",      "TMPDIR"};
	for (size_t i = 0; i < ARRAY_LEN(basic); i++)
		if (name_matches(entry, basic[i]))
			return true;
	return false;
}

bool envfilter_name_valid(const char *name)
{
	if (!(isalpha((unsigned char)name[0]) || name[0] == '_'))
		return false;
	for (const char *p = name + 1; *p; p++) {
		if (*p == '*' && p[1] == '\0')
			return true;
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return false;
	}
	return true;
}

json_t *envfilter_parse_list(const char *list, char *err, size_t n)
{
	json_t *names = json_array();
	const char *p = list;
	while (*p) {
		size_t len = strcspn(p, ",");
		char *name = xstrndup(p, len);
		if (!envfilter_name_valid(name)) {
			snprintf(err, n, "'%s' is not a variable name ([A-Za-z_][A-Za-z0-9_]*, or a "
					 "prefix ending in '*')",
				 name);
			free(name);
			json_decref(names);
			return NULL;
		}
		json_array_append_new(names, json_string(name));
		free(name);
		p += len;
		if (*p == ',')
			p++;
	}
	return names;
}

bool envfilter_keeps(const json_t *inherit, const char *entry)
{
	if (!inherit || json_is_true(inherit))
		return true;
	if (!json_is_array(inherit))
		return envfilter_is_basic(entry);
	size_t i;
	json_t *v;
	json_array_foreach(inherit, i, v)
	{
		if (json_is_string(v) && name_matches(entry, json_string_value(v)))
			return true;
	}
	return false;
}

char **envfilter_without_secrets(char *const *env)
{
	size_t n = 0, k = 0;
	while (env[n])
		n++;
	char **out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		if (!envfilter_is_secret(env[i]))
			out[k++] = env[i];
	out[k] = NULL;
	return out;
}
