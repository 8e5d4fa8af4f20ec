/* libFuzzer: the built-in providers' URL matchers (supervisor/tunnel_config.c patterns, applied
 * by reaper/tunnel.c) on sanitized lines. Invariants: a URL is https, fits, and cloudflared's is
 * a trycloudflare.com host of hyphenated words, never api.trycloudflare.com. */
#include <assert.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/sanitize.h"
#include "reaper/tunnel.h"
#include "supervisor/tunnel_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"cloudflared", "ngrok", "localtunnel"};
static regex_t res[3];
static const char *requires[3];
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		for (int i = 0; i < 3; i++) {
			const char *pattern, *fatal;
			assert(tunnel_config_provider(names[i], &pattern, &requires[i], &fatal));
			assert(regcomp(&res[i], pattern, REG_EXTENDED) == 0);
		}
		ready = 1;
	}
	char *line = malloc(size * 3 + 8);
	sanitize_line((const char *)data, size, line, size * 3 + 8);
	for (int i = 0; i < 3; i++) {
		char url[512];
		if (!tunnel_match(&res[i], requires[i], line, url, sizeof(url)))
			continue;
		assert(strncmp(url, "https://", 8) == 0);
		assert(strlen(url) < sizeof(url));
		if (i == 0) {
			size_t n = strlen(url), sfx = strlen(".trycloudflare.com");
			assert(n > sfx && strcmp(url + n - sfx, ".trycloudflare.com") == 0);
			assert(strncmp(url, "https://api.", 12) != 0);
			assert(strchr(url + 8, '-'));
		}
	}
	free(line);
	return 0;
}
