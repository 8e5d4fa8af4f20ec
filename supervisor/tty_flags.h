#ifndef DEVSUP_TTY_FLAGS_H
#define DEVSUP_TTY_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The options of the front end's typed commands: the names each command takes (for "did you
 * mean" and completion) and the reading of their values. Pure.
 */

typedef struct {
	const char *const *names;
	size_t n;
} tty_names_t;

/* The options of start/restart, stop, logs and up/down; --framework's and --tunnel='s values. */
extern const tty_names_t tty_start_flags, tty_stop_flags, tty_logs_flags, tty_file_flags,
	tty_frameworks, tty_providers;

/* s as a whole decimal number in [lo, hi] into *out; false if it is not one. */
bool tty_parse_int(const char *s, long long lo, long long hi, long long *out);
/* Seconds, fractions allowed ("1.5"), up to max_s, as milliseconds; false if not such. */
bool tty_parse_seconds_ms(const char *s, long long max_s, long long *ms);
/* True when arg is the option name, alone or as name=value. */
bool tty_flag_is(const char *arg, const char *name);
/* The value of option name at argv[*i] ("--port=3000" or "--port 3000", then *i moves on to
 * it); NULL with err when it is missing. */
const char *tty_flag_value(int argc, char **argv, int *i, const char *name, char *err,
			   size_t errlen);
/* err: arg is no option of cmd, with the nearest of flags[0..n) if one is near. False. */
bool tty_flag_unknown(const char *arg, const char *cmd, const char *const *flags, size_t n,
		      char *err, size_t errlen);
/* A directory as typed, made absolute: as it is if absolute, ~/ from HOME, else below cwd
 * (malloc'd). */
char *tty_absolute_dir(const char *dir, const char *cwd);

#endif
