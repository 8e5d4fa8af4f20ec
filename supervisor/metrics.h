#ifndef DEVSUP_METRICS_H
#define DEVSUP_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/reason.h"

/* Counters for the `metrics` command. */
void metrics_start_requested(void);
void metrics_start_succeeded(uint64_t startup_ms);
void metrics_start_failed(reason_t reason);
void metrics_exited(reason_t reason);
void metrics_stopped(bool forced);
/* The `metrics` event's fields, as a new object. */
json_t *metrics_json(void);

#endif
