#ifndef DEVSUP_OUTPUT_H
#define DEVSUP_OUTPUT_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * stdout: one JSON event per line, written without blocking. Lifecycle events are queued
 * however slow the reader is (they are few and small); `log` events are dropped once the
 * queue holds OUTPUT_LOG_LIMIT bytes, and counted.
 */
#define OUTPUT_LOG_LIMIT (1024 * 1024)

void output_init(struct ev_loop *loop, int fd);
/* A new event: type, timestamp, and projectId / commandId when given (command_id borrowed). */
json_t *event_new(const char *type, const char *project_id, json_t *command_id);
/* Queues ev as one line; steals the reference. Never dropped while the reader is there. */
void output_event(json_t *ev);
/* Hands every event to sink instead of writing it as JSON (the interactive front end); the
 * sink takes the reference. */
void output_set_sink(void (*sink)(json_t *ev));
/* Queues bytes as they are (text for a person), with the same non-blocking writer. */
void output_write_raw(const char *bytes, size_t n);
/* True when a droppable event (a `log` line) would be queued now; false counts one drop. */
bool output_log_room(void);
/* The same question, without counting a drop: for sending a line held back meanwhile. */
bool output_log_room_now(void);
/* Bytes waiting to be written. */
size_t output_pending(void);
uint64_t output_dropped_logs(void);
/* At exit: writes what is queued, waiting at most timeout_ms for a slow reader, and gives the
 * fd back blocking if it was. */
void output_drain(int timeout_ms);
/* There is no "drained" callback: whoever waits for the queue to empty asks output_pending()
 * before the loop sleeps (an ev_prepare: main.c's exit check, tty.c's refresh). */

#endif
