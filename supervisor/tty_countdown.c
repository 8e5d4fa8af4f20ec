/* The stop countdown of the terminal front end's prompt. */
#include "supervisor/tty_countdown.h"

#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "supervisor/project.h"

#define DEFAULT_STOP_TIMEOUT_MS 10000

static struct {
	struct ev_loop *loop;
	ev_timer timer; /* runs only while a stop waits for its grace */
	bool on;        /* on a terminal */
	bool shown;     /* it ticked once: the prompt counts down */
	void (*redraw)(void);
	json_t *expected; /* project -> timeoutMs of a stop typed here */
	json_t *stopping; /* project -> its SIGKILL deadline (monotonic ms) */
} cd;

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	cd.shown = true;
	cd.redraw();
}

void tty_countdown_init(struct ev_loop *loop, bool on, void (*redraw)(void))
{
	cd.loop = loop;
	cd.on = on;
	cd.redraw = redraw;
	cd.shown = false;
	cd.expected = json_object();
	cd.stopping = json_object();
	ev_timer_init(&cd.timer, tick_cb, 1., 1.);
}

void tty_countdown_expect(const char *id, uint64_t timeout_ms)
{
	json_object_set_new(cd.expected, id, json_integer((json_int_t)timeout_ms));
}

void tty_countdown_began(const char *id, bool force)
{
	json_t *t = json_object_get(cd.expected, id);
	project_t *p = project_find(id);
	json_t *spec_t = p && p->spec ? json_object_get(p->spec, "stopTimeoutMs") : NULL;
	uint64_t ms = t ? (uint64_t)json_integer_value(t)
			: spec_t ? (uint64_t)json_integer_value(spec_t) : DEFAULT_STOP_TIMEOUT_MS;
	if (force)
		ms = 0;
	json_object_del(cd.expected, id);
	json_object_set_new(cd.stopping, id, json_integer((json_int_t)(clock_ms() + ms)));
	if (cd.on && !ev_is_active(&cd.timer)) {
		ev_timer_set(&cd.timer, 1., 1.);
		ev_timer_start(cd.loop, &cd.timer);
	}
}

void tty_countdown_ended(const char *id)
{
	if (!json_object_get(cd.stopping, id))
		return;
	json_object_del(cd.stopping, id);
	if (json_object_size(cd.stopping) == 0 && ev_is_active(&cd.timer)) {
		ev_timer_stop(cd.loop, &cd.timer);
		cd.shown = false;
		cd.redraw();
	}
}

/* "stopping web... SIGKILL in 7 s": the earliest deadline of the stops that wait, once the
 * countdown has ticked (a quick stop never shows it). ASCII only: libedit's prompt is decoded
 * in the C locale, where a multibyte character makes it crash. */
size_t tty_countdown_text(char *buf, size_t n)
{
	const char *id;
	json_t *v;
	uint64_t now = clock_ms(), first = UINT64_MAX;
	size_t k = 0, count = 0;
	if (!cd.shown || json_object_size(cd.stopping) == 0)
		return 0;
	k = (size_t)snprintf(buf, n, "stopping");
	json_object_foreach(cd.stopping, id, v)
	{
		uint64_t at = (uint64_t)json_integer_value(v);
		if (at < first)
			first = at;
		if (count++ < 3 && k < n)
			k += (size_t)snprintf(buf + k, n - k, "%s %.32s", count > 1 ? "," : "", id);
	}
	if (count > 3 && k < n)
		k += (size_t)snprintf(buf + k, n - k, " and %zu more", count - 3);
	if (k < n && first > now)
		k += (size_t)snprintf(buf + k, n - k, "... SIGKILL in %llu s",
				      (unsigned long long)((first - now + 999) / 1000));
	else if (k < n)
		k += (size_t)snprintf(buf + k, n - k, "... killing");
	return k;
}

void tty_countdown_stop(void)
{
	if (cd.loop)
		ev_timer_stop(cd.loop, &cd.timer);
	json_decref(cd.expected);
	json_decref(cd.stopping);
	cd.expected = cd.stopping = NULL;
}
