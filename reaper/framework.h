#ifndef DEVSUP_FRAMEWORK_H
#define DEVSUP_FRAMEWORK_H

#include <jansson.h>
#include <stdint.h>

typedef enum { FRAMEWORK_NEXT, FRAMEWORK_VITE, FRAMEWORK_OTHER } framework_t;

/* "next", "vite", "other". */
const char *framework_name(framework_t f);
/* Default health timeouts of SPEC §3: next 15 s, vite 5 s, other 10 s. */
uint64_t framework_health_timeout_ms(framework_t f);
/*
 * The framework for a start: `requested` unless it is "auto"; then from the command's words
 * (`next`, `vite`, also as paths such as node_modules/.bin/vite), and for `npm run X` and
 * friends from package.json in cwd: the script's words, else the dependencies.
 */
framework_t framework_detect(const char *requested, const json_t *command, const char *cwd);

#endif
