#include "supervisor/metrics.h"

#include <stdlib.h>
#include <string.h>

#define LATENCY_WINDOW 1024

static struct {
	uint64_t starts, started, stops, forced_kills, exits;
	uint64_t failures[REASON_COUNT];
	uint64_t exit_reasons[REASON_COUNT];
	uint64_t latency[LATENCY_WINDOW]; /* the last LATENCY_WINDOW start latencies */
	uint64_t nlatency;
} m;

void metrics_start_requested(void)
{
	m.starts++;
}

void metrics_start_succeeded(uint64_t startup_ms)
{
	m.started++;
	m.latency[m.nlatency++ % LATENCY_WINDOW] = startup_ms;
}

void metrics_start_failed(reason_t reason)
{
	if ((unsigned)reason < REASON_COUNT)
		m.failures[reason]++;
}

void metrics_exited(reason_t reason)
{
	m.exits++;
	if ((unsigned)reason < REASON_COUNT)
		m.exit_reasons[reason]++;
}

void metrics_stopped(bool forced)
{
	m.stops++;
	if (forced)
		m.forced_kills++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static json_t *by_reason(const uint64_t *counts)
{
	json_t *o = json_object();
	for (int r = 1; r < REASON_COUNT; r++)
		if (counts[r])
			json_object_set_new(o, reason_name((reason_t)r),
					    json_integer((json_int_t)counts[r]));
	return o;
}

json_t *metrics_json(void)
{
	size_t n = m.nlatency < LATENCY_WINDOW ? m.nlatency : LATENCY_WINDOW;
	uint64_t sorted[LATENCY_WINDOW];
	memcpy(sorted, m.latency, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	json_t *lat = json_object();
	json_object_set_new(lat, "count", json_integer((json_int_t)n));
	const struct {
		const char *name;
		unsigned pct;
	} pcts[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"max", 100}};
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		/* nearest-rank percentile */
		size_t rank = n ? (n * pcts[i].pct + 99) / 100 : 0;
		json_object_set_new(lat, pcts[i].name,
				    n ? json_integer((json_int_t)sorted[rank ? rank - 1 : 0])
				      : json_null());
	}
	uint64_t failed = 0;
	for (int r = 0; r < REASON_COUNT; r++)
		failed += m.failures[r];
	return json_pack("{s:I, s:I, s:I, s:o, s:I, s:o, s:I, s:I, s:o}", "starts",
			 (json_int_t)m.starts, "started", (json_int_t)m.started, "startFailures",
			 (json_int_t)failed, "failuresByReason", by_reason(m.failures), "exits",
			 (json_int_t)m.exits, "exitsByReason", by_reason(m.exit_reasons), "stops",
			 (json_int_t)m.stops, "forcedKills", (json_int_t)m.forced_kills,
			 "startLatencyMs", lat);
}
