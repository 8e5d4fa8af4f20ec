#ifndef DEVSUP_LOG_H
#define DEVSUP_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Logging goes to stderr only: stdout carries protocol lines and nothing else. It never blocks:
 * lines stderr cannot take now wait (up to LOG_PENDING_MAX bytes), then are counted and dropped,
 * and "N log lines dropped" is written once stderr takes lines again (log.c). */
#define LOG_PENDING_MAX 65536
typedef enum {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_OFF,
} log_level_t;

/* Sets the program name shown in each line and the lowest level printed. */
void log_init(const char *prog, log_level_t level);
/* Sends each line (with its '\n') to sink instead of stderr: a terminal front end prints it
 * above the line being typed. NULL: stderr again. */
void log_set_sink(void (*sink)(const char *line, size_t len));
/* Parses "debug", "info", "warn", "error", "off"; -1 for anything else. */
int log_level_parse(const char *s);
/* Writes what waits, as far as stderr takes it now (never blocks); the master calls it after
 * every event, and every log_msg does first. */
void log_flush(void);
/* Bytes waiting for stderr. */
size_t log_pending(void);
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
