#include "reaper/tunnel.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/utf8.h"
#include "common/util.h"

#define CLOSE_GRACE_S 2.0    /* SPEC §6: SIGTERM, a short grace, SIGKILL */
#define RETRY_BASE_S 0.5     /* between attempts of one opening */
#define REOPEN_BASE_S 1.0    /* after an open tunnel died */
#define BACKOFF_MAX_S 30.0

static void tunnel_attempt(tunnel_t *t);

static void tunnel_signal(tunnel_t *t, int sig)
{
	/* t->pid is our child and not yet reaped, so its group cannot be someone else's */
	if (t->pid > 0 && kill(-t->pid, sig) < 0 && errno != ESRCH)
		log_warn("tunnel: kill(-%d, %s): %s", (int)t->pid, signal_name(sig), strerror(errno));
}

static void tunnel_arm(tunnel_t *t, double seconds)
{
	ev_timer_stop(t->loop, &t->timer);
	ev_timer_set(&t->timer, seconds, 0.);
	ev_timer_start(t->loop, &t->timer);
}

static double backoff(double base, unsigned attempt)
{
	double s = base;
	for (unsigned i = 1; i < attempt && s < BACKOFF_MAX_S; i++)
		s *= 2;
	return s < BACKOFF_MAX_S ? s : BACKOFF_MAX_S;
}

static void tunnel_fail(tunnel_t *t, const char *message)
{
	t->state = TUNNEL_FAILED;
	ev_timer_stop(t->loop, &t->timer);
	log_warn("tunnel: %s", message);
	t->cbs.event(t->ctx, "failed", NULL, "tunnel_failed", message);
	if (!t->settled) {
		t->settled = true;
		t->cbs.settled(t->ctx, NULL, message);
	}
}

bool tunnel_match(const regex_t *pattern, const char *require, const char *line, char *url,
		  size_t n)
{
	regmatch_t m[2];
	if (require && !strstr(line, require))
		return false;
	if (regexec(pattern, line, 2, m, 0) != 0)
		return false;
	const regmatch_t *g = pattern->re_nsub > 0 && m[1].rm_so >= 0 ? &m[1] : &m[0];
	size_t len = (size_t)(g->rm_eo - g->rm_so);
	if (len == 0 || len >= n)
		return false;
	memcpy(url, line + g->rm_so, len);
	url[len] = '\0';
	return true;
}

static void tunnel_line(void *ctx, ring_stream_t stream, const char *line, size_t len)
{
	tunnel_t *t = ctx;
	(void)stream;
	if (len > 0) /* cut at a character boundary: it ends up in JSON (tunnelError) */
		utf8_copy(t->last_line, sizeof(t->last_line), line, len);
	if (t->state != TUNNEL_OPENING || t->killing)
		return;
	if (t->has_fatal && regexec(&t->fatal, line, 0, NULL, 0) == 0)
		t->fatal_seen = true;
	if (!tunnel_match(&t->pattern, t->require, line, t->url, sizeof(t->url)))
		return;
	t->state = TUNNEL_OPEN;
	t->attempt = 0; /* a later reopening starts a new series */
	ev_timer_stop(t->loop, &t->timer);
	log_info("tunnel: open at %s", t->url);
	t->cbs.event(t->ctx, "opened", t->url, NULL, NULL);
	if (!t->settled) {
		t->settled = true;
		t->cbs.settled(t->ctx, t->url, NULL);
	}
}

static void tunnel_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	tunnel_t *t = w->data;
	(void)loop;
	(void)revents;
	switch (t->state) {
	case TUNNEL_OPENING:
		if (!t->killing) { /* no URL in time: end this attempt */
			t->killing = true;
			utf8_format(t->last_line, sizeof(t->last_line), "no URL within %llu ms",
				 (unsigned long long)t->timeout_ms);
			tunnel_signal(t, SIGTERM);
			tunnel_arm(t, CLOSE_GRACE_S);
		} else {
			tunnel_signal(t, SIGKILL);
		}
		break;
	case TUNNEL_CLOSING:
		tunnel_signal(t, SIGKILL);
		break;
	case TUNNEL_BACKOFF:
		tunnel_attempt(t);
		break;
	default:
		break;
	}
}

static void tunnel_attempt(tunnel_t *t)
{
	int out_child, err_child, exec_fd;
	t->attempt++;
	t->url[0] = t->last_line[0] = '\0';
	t->killing = t->fatal_seen = false;
	if (capture_open(&t->out, t->loop, RING_STDOUT, tunnel_line, t, &out_child) < 0)
		goto fail;
	if (capture_open(&t->err, t->loop, RING_STDERR, tunnel_line, t, &err_child) < 0) {
		close(out_child);
		goto fail;
	}
	t->pid = spawn_start(&t->plan, t->cwd, out_child, err_child, &exec_fd);
	int e = errno;
	close(out_child);
	close(err_child);
	if (t->pid < 0) {
		t->pid = 0;
		errno = e;
		goto fail;
	}
	/* an exec failure shows as the client exiting 127 at once; no need to watch this */
	close(exec_fd);
	log_info("tunnel: %s attempt %u (pid %d)", t->provider, t->attempt, (int)t->pid);
	t->state = TUNNEL_OPENING;
	tunnel_arm(t, (double)t->timeout_ms / 1000.);
	return;
fail:;
	char msg[256];
	utf8_format(msg, sizeof(msg), "cannot start the %s tunnel client: %s", t->provider,
		 strerror(errno));
	capture_close(&t->out, t->loop);
	capture_close(&t->err, t->loop);
	tunnel_fail(t, msg);
}

bool tunnel_start(tunnel_t *t, struct ev_loop *loop, const json_t *spec, const char *cwd,
		  int port, const json_t *env, const spawn_ids_t *ids, const tunnel_cbs_t *cbs,
		  void *ctx)
{
	memset(t, 0, sizeof(*t));
	t->loop = loop;
	t->cbs = *cbs;
	t->ctx = ctx;
	t->out.fd = t->err.fd = -1;
	t->cwd = xstrdup(cwd);
	t->provider = xstrdup(json_string_value(json_object_get(spec, "provider")) ?: "tunnel");
	t->timeout_ms = (uint64_t)json_integer_value(json_object_get(spec, "timeoutMs"));
	t->retries = (unsigned)json_integer_value(json_object_get(spec, "retries"));
	ev_timer_init(&t->timer, tunnel_timer_cb, 0., 0.);
	t->timer.data = t;
	const char *require = json_string_value(json_object_get(spec, "require"));
	const char *fatal = json_string_value(json_object_get(spec, "fatal"));
	t->require = require ? xstrdup(require) : NULL;
	if (regcomp(&t->pattern, json_string_value(json_object_get(spec, "pattern")) ?: "",
		    REG_EXTENDED) != 0) {
		tunnel_fail(t, "the tunnel's urlPattern is not a valid regular expression");
		return false;
	}
	t->has_pattern = true;
	t->has_fatal = fatal && regcomp(&t->fatal, fatal, REG_EXTENDED | REG_NOSUB) == 0;
	failure_t f;
	if (!spawn_prepare(json_object_get(spec, "argv"), cwd, port, env, ids, &t->plan, &f)) {
		/* not installed or not executable: no retry can fix that */
		char msg[sizeof(f.message) + 64];
		utf8_format(msg, sizeof(msg), "%s tunnel: %s", t->provider, f.message);
		tunnel_fail(t, msg);
		return false;
	}
	tunnel_attempt(t);
	return true;
}

bool tunnel_child_exited(tunnel_t *t, pid_t pid, int status)
{
	if (pid <= 0 || pid != t->pid)
		return false;
	t->pid = 0;
	t->status = status;
	ev_timer_stop(t->loop, &t->timer);
	/* its last lines (the error) may still be in the pipes */
	capture_drain(&t->out, t->loop);
	capture_drain(&t->err, t->loop);
	capture_close(&t->out, t->loop);
	capture_close(&t->err, t->loop);
	char how[64], msg[512];
	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by %s", signal_name(WTERMSIG(status)));
	else
		snprintf(how, sizeof(how), "exited with code %d", WEXITSTATUS(status));
	switch (t->state) {
	case TUNNEL_CLOSING:
		t->state = TUNNEL_OFF;
		t->cbs.closed(t->ctx);
		break;
	case TUNNEL_OPENING:
		if (t->fatal_seen) {
			utf8_format(msg, sizeof(msg), "%s tunnel %s: %s (not retried: fix this first)",
				 t->provider, how, t->last_line);
			tunnel_fail(t, msg);
		} else if (t->attempt > t->retries) {
			utf8_format(msg, sizeof(msg), "%s tunnel failed after %u attempts; the last %s: %s",
				 t->provider, t->attempt, how, t->last_line[0] ? t->last_line : "no output");
			tunnel_fail(t, msg);
		} else {
			log_warn("tunnel: attempt %u %s (%s); retrying", t->attempt, how, t->last_line);
			t->state = TUNNEL_BACKOFF;
			tunnel_arm(t, backoff(RETRY_BASE_S, t->attempt));
		}
		break;
	case TUNNEL_OPEN:
		utf8_format(msg, sizeof(msg), "%s tunnel client %s: %s", t->provider, how,
			 t->last_line[0] ? t->last_line : "no output");
		t->url[0] = '\0';
		t->cbs.event(t->ctx, "closed", NULL, "exited", msg);
		t->state = TUNNEL_BACKOFF;
		tunnel_arm(t, REOPEN_BASE_S);
		break;
	default:
		break;
	}
	return true;
}

void tunnel_close(tunnel_t *t, uint64_t grace_ms)
{
	ev_timer_stop(t->loop, &t->timer);
	if (t->pid <= 0) {
		t->state = TUNNEL_OFF;
		t->cbs.closed(t->ctx);
		return;
	}
	t->state = TUNNEL_CLOSING;
	tunnel_signal(t, SIGTERM);
	tunnel_signal(t, SIGCONT);
	double grace = (double)grace_ms / 1000.;
	tunnel_arm(t, grace < CLOSE_GRACE_S ? grace : CLOSE_GRACE_S);
}

const char *tunnel_url(const tunnel_t *t)
{
	return t->state == TUNNEL_OPEN && t->url[0] ? t->url : NULL;
}

void tunnel_free(tunnel_t *t)
{
	if (!t->loop)
		return;
	ev_timer_stop(t->loop, &t->timer);
	capture_close(&t->out, t->loop);
	capture_close(&t->err, t->loop);
	if (t->has_pattern)
		regfree(&t->pattern);
	if (t->has_fatal)
		regfree(&t->fatal);
	spawn_plan_free(&t->plan);
	free(t->cwd);
	free(t->provider);
	free(t->require);
	memset(t, 0, sizeof(*t));
}
