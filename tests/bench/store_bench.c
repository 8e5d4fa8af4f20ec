/*
 * store-bench URL [N]: how fast devsup's Postgres writer (supervisor/store.c) gets transitions
 * into the database, through the same code path as devsup.
 *   burst: N transitions queued at once; prints transitions per second until all committed;
 *   paced: 2000 transitions, one per millisecond; prints the delay from a transition to its
 *          commit (p50, p99, max), as measured by the writer.
 */
#include <ev.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "supervisor/store.h"

static struct ev_loop *loop;
static uint64_t seq = 1;
static int paced_left;

static void queue_one(int i)
{
	static const char *const states[] = {"idle", "starting", "running", "stopping", "stopped"};
	char id[32];
	snprintf(id, sizeof(id), "bench-%d", i % 50);
	store_transition(&(store_transition_t){
		.project_id = id,
		.seq = seq++,
		.from = states[i % 4],
		.to = states[i % 4 + 1],
		.at_ms = wall_ms(),
		/* a stopped row holds no port or pid (the schema checks it) */
		.port = i % 4 == 3 ? 0 : 3000 + i % 50,
		.pid = i % 4 == 3 ? 0 : 1000 + i % 50,
		.pgid = i % 4 == 3 ? 0 : 1000 + i % 50,
		.framework = "vite",
	});
}

/* Ends the loop once everything queued is committed (asked before the loop sleeps, after
 * every event, as devsup's exit check does), or at the deadline. */
static ev_prepare written_w;
static ev_timer written_deadline;

static void written_cb(struct ev_loop *l, ev_prepare *w, int revents)
{
	(void)revents;
	if (store_unwritten() > 0)
		return;
	ev_prepare_stop(l, w);
	ev_timer_stop(l, &written_deadline);
	ev_break(l, EVBREAK_ALL);
}

static void written_late_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	fprintf(stderr, "store-bench: %zu transitions still unwritten at the deadline\n",
		store_unwritten());
	ev_prepare_stop(l, &written_w);
	ev_break(l, EVBREAK_ALL);
}

static void wait_written(double timeout_s)
{
	ev_prepare_init(&written_w, written_cb);
	ev_prepare_start(loop, &written_w);
	ev_timer_init(&written_deadline, written_late_cb, timeout_s, 0.);
	ev_timer_start(loop, &written_deadline);
}

static void wait_connected_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)revents;
	json_t *s = store_status_json();
	if (json_is_true(json_object_get(s, "connected"))) {
		ev_timer_stop(l, w);
		ev_break(l, EVBREAK_ALL);
	}
	json_decref(s);
}

static void connect_store(const char *url)
{
	static ev_timer t;
	store_init(loop, &(store_config_t){.url = url, .runner_id = "bench"});
	ev_timer_init(&t, wait_connected_cb, 0.01, 0.01);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
}

static void paced_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)revents;
	queue_one(paced_left);
	if (--paced_left == 0) {
		ev_timer_stop(l, w);
		wait_written(60.);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: store-bench URL [N]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 100000;
	loop = ev_default_loop(0);

	connect_store(argv[1]);
	uint64_t t0 = clock_ms();
	for (int i = 0; i < n; i++)
		queue_one(i);
	wait_written(600.);
	ev_run(loop, 0);
	uint64_t ms = clock_ms() - t0;
	printf("postgres writer, burst: %d transitions committed in %llu ms = %.0f transitions/s\n", n,
	       (unsigned long long)ms, ms ? n * 1000.0 / (double)ms : 0.0);
	store_free();

	connect_store(argv[1]);
	static ev_timer pace;
	paced_left = 2000;
	ev_timer_init(&pace, paced_cb, 0.001, 0.001);
	ev_timer_start(loop, &pace);
	ev_run(loop, 0);
	json_t *s = store_status_json();
	json_t *lat = json_object_get(s, "commitLatencyMs");
	printf("postgres writer, paced 1/ms: transition -> commit p50 %lld ms, p99 %lld ms, max %lld ms "
	       "(%lld transitions)\n",
	       (long long)json_integer_value(json_object_get(lat, "p50")),
	       (long long)json_integer_value(json_object_get(lat, "p99")),
	       (long long)json_integer_value(json_object_get(lat, "max")),
	       (long long)json_integer_value(json_object_get(lat, "count")));
	json_decref(s);
	store_free();
	return 0;
}
