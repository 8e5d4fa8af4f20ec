#ifndef DEVSUP_UTIL_H
#define DEVSUP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DEVSUP_VERSION "0.1.0"
#define WUR __attribute__((warn_unused_result))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation never fails silently: out of memory aborts with a message. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* fcntl helpers: 0 on success, -1 with errno. */
int fd_set_nonblock(int fd) WUR;
int fd_set_cloexec(int fd) WUR;

/* Marks every fd >= lowfd close-on-exec: whatever we inherited must not reach a dev server.
 * 0, or -1 with errno. */
int fd_cloexec_from(int lowfd) WUR;

/* read/write that retry EINTR and otherwise behave like the syscalls. */
ssize_t fd_read(int fd, void *buf, size_t n) WUR;
ssize_t fd_write(int fd, const void *buf, size_t n) WUR;
/* Reads a small file (/proc, cgroup files) into buf, up to n bytes, no NUL added: the length,
 * or -1 with errno. */
ssize_t file_read_small(const char *path, char *buf, size_t n) WUR;

/* Milliseconds on CLOCK_MONOTONIC: for durations and deadlines. */
uint64_t clock_ms(void);
/* Milliseconds since the epoch on CLOCK_REALTIME: for timestamps. */
uint64_t wall_ms(void);
/* ISO 8601 UTC with milliseconds ("2026-11-26T12:00:00.123Z") into buf (>= 25 bytes). */
void time_iso8601(uint64_t epoch_ms, char *buf, size_t n);
/* Edit distance (insertions, deletions, substitutions, swaps of neighbours) for "did you
 * mean" suggestions; 64 for strings over 63 bytes. */
size_t text_distance(const char *a, const char *b);
/* The reverse of time_iso8601 (exactly its format); false for anything else. */
bool time_parse_iso8601(const char *s, uint64_t *epoch_ms);
/* bytes as a person reads them: "512 B", "1.5 KiB", "312.4 MiB", "2.0 GiB". */
void bytes_human(uint64_t bytes, char *buf, size_t n);

/* "SIGKILL" for 9; "SIG<n>" for an unnamed signal. The string is static. */
const char *signal_name(int sig);

/* True when s is 1..128 characters of [A-Za-z0-9._:-] without "..". */
bool project_id_valid(const char *s);

#endif
