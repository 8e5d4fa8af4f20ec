/* Connection parameters for the Postgres writer, and host names resolved off the loop. */
#include "supervisor/store_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

/* Addresses kept per name: libpq tries them in turn, as it would after its own look-up. */
#define ADDRS_PER_NAME 4

/* devsup's settings, under whatever the URL says. synchronous_commit=on: a batch acknowledged
 * by its sync point survives a server crash. The client keepalives notice a dead server; the
 * server-side ones (sent as settings) end the session of a vanished client within
 * idle + interval x count = 10 + 5 x 3 = 25 s, tcp_user_timeout within 20 s of unacknowledged
 * data, which frees its advisory locks (docs/operations.md). */
#define OUR_OPTIONS                                                                     \
	"-c synchronous_commit=on -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5" \
	" -c tcp_keepalives_count=3 -c tcp_user_timeout=20000"
static const char *const defaults[][2] = {
	{"application_name", "devsup"},
	{"keepalives", "1"},
	{"keepalives_idle", "10"},
	{"keepalives_interval", "5"},
	{"keepalives_count", "3"},
	{"tcp_user_timeout", "20000"},
	{"options", OUR_OPTIONS},
};

static void params_set(conn_params_t *p, const char *key, const char *val)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->keys[i], key) == 0) {
			free(p->vals[i]);
			p->vals[i] = xstrdup(val);
			return;
		}
	}
	if (p->n == CONN_MAX_PARAMS) {
		log_warn("postgres: too many connection settings, ignoring %s", key);
		return;
	}
	p->keys[p->n] = xstrdup(key);
	p->vals[p->n] = xstrdup(val);
	p->n++;
	p->keys[p->n] = NULL;
	p->vals[p->n] = NULL;
}

const char *conn_params_get(const conn_params_t *p, const char *key)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->keys[i], key) == 0)
			return p->vals[i];
	return NULL;
}

void conn_params_free(conn_params_t *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->keys[i]);
		free(p->vals[i]);
	}
	memset(p, 0, sizeof(*p));
}

bool conn_params_build(conn_params_t *p, const char *url, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	if (!opts) {
		snprintf(err, errlen, "%s", perr ? perr : "cannot parse the database URL");
		PQfreemem(perr);
		return false;
	}
	for (size_t i = 0; i < ARRAY_LEN(defaults); i++)
		params_set(p, defaults[i][0], defaults[i][1]);
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "options") == 0) {
			size_t n = strlen(OUR_OPTIONS) + strlen(o->val) + 2;
			char *merged = xmalloc(n);
			snprintf(merged, n, "%s %s", OUR_OPTIONS, o->val);
			params_set(p, "options", merged);
			free(merged);
		} else {
			params_set(p, o->keyword, o->val);
		}
	}
	PQconninfoFree(opts);
	/* libpq would read these itself; we need to know them to resolve ahead of it */
	const char *envhost = getenv("PGHOST");
	if (!conn_params_get(p, "host") && envhost && *envhost)
		params_set(p, "host", envhost);
	const char *envaddr = getenv("PGHOSTADDR");
	if (!conn_params_get(p, "hostaddr") && envaddr && *envaddr)
		params_set(p, "hostaddr", envaddr);
	return true;
}

static bool is_numeric(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* A host entry libpq would hand to the resolver: not a socket directory (/...) or abstract
 * socket (@...), not empty (the default socket), not an address already. */
static bool entry_needs_lookup(const char *h)
{
	return *h && *h != '/' && *h != '@' && !is_numeric(h);
}

/* Splits a comma list into a NULL-terminated array of n copies. */
static char **split(const char *s, size_t *n)
{
	size_t cap = 1;
	for (const char *c = s; *c; c++)
		cap += *c == ',';
	char **v = xcalloc(cap + 1, sizeof(*v));
	*n = 0;
	for (const char *c = s;;) {
		const char *e = strchr(c, ',');
		v[(*n)++] = e ? xstrndup(c, (size_t)(e - c)) : xstrdup(c);
		if (!e)
			break;
		c = e + 1;
	}
	return v;
}

static void free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

bool conn_needs_resolution(const conn_params_t *p)
{
	const char *host = conn_params_get(p, "host");
	const char *addr = conn_params_get(p, "hostaddr");
	if (!host || (addr && *addr))
		return false;
	size_t n;
	char **v = split(host, &n);
	bool need = false;
	for (size_t i = 0; i < n; i++)
		need = need || entry_needs_lookup(v[i]);
	free_list(v);
	return need;
}

/* One resolution: the thread fills addrs (or error) and hands the job back through the pipe;
 * from then on only the loop touches it. */
typedef struct {
	char **names;  /* the host entries, as in `host` */
	size_t n;
	char **addrs;  /* per entry: "a1,a2" or "" (no look-up needed); NULL if it failed */
	char error[256];
} job_t;

static struct {
	struct ev_loop *loop;
	int fds[2];
	ev_io io;
	bool busy;           /* a thread is resolving */
	conn_params_t *want; /* whose params get the result; NULL: nobody waits */
	conn_resolved_cb done;
} rs = {.fds = {-1, -1}};

static char *lookup(const char *name, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve host \"%s\": %s", name,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return NULL;
	}
	char out[ADDRS_PER_NAME * (INET6_ADDRSTRLEN + 1) + 1] = "";
	char seen[ADDRS_PER_NAME][INET6_ADDRSTRLEN];
	int kept = 0;
	for (struct addrinfo *a = res; a && kept < ADDRS_PER_NAME; a = a->ai_next) {
		char host[INET6_ADDRSTRLEN];
		if (getnameinfo(a->ai_addr, a->ai_addrlen, host, sizeof(host), NULL, 0,
				NI_NUMERICHOST) != 0)
			continue;
		bool dup = false; /* the same address for another socket type */
		for (int k = 0; k < kept && !dup; k++)
			dup = strcmp(seen[k], host) == 0;
		if (dup)
			continue;
		snprintf(seen[kept], sizeof(seen[kept]), "%s", host);
		if (kept++)
			strcat(out, ",");
		strcat(out, host);
	}
	freeaddrinfo(res);
	if (!kept) {
		snprintf(err, errlen, "host \"%s\" has no usable address", name);
		return NULL;
	}
	return xstrdup(out);
}

static void *resolve_thread(void *arg)
{
	job_t *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		if (!entry_needs_lookup(j->names[i])) {
			j->addrs[i] = xstrdup("");
			continue;
		}
		j->addrs[i] = lookup(j->names[i], j->error, sizeof(j->error));
		if (!j->addrs[i])
			break;
	}
	/* a pointer is far below PIPE_BUF: one atomic write; the loop owns j afterwards */
	ssize_t w;
	do
		w = write(rs.fds[1], &j, sizeof(j));
	while (w < 0 && errno == EINTR);
	return NULL;
}

static void job_free(job_t *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->addrs[i]);
	free(j->addrs);
	free_list(j->names);
	free(j);
}

/* host/hostaddr/port with one entry per address, so libpq still tries each in turn. */
static void apply(conn_params_t *p, const job_t *j)
{
	const char *port = conn_params_get(p, "port");
	size_t nports = 0;
	char **ports = port ? split(port, &nports) : NULL;
	bool per_host = nports > 1 && nports == j->n;
	size_t cap = 1;
	for (size_t i = 0; i < j->n; i++)
		cap += (strlen(j->names[i]) + 64) * ADDRS_PER_NAME + (per_host ? 16 * ADDRS_PER_NAME : 0);
	char *host = xcalloc(1, cap), *addr = xcalloc(1, cap), *prt = xcalloc(1, cap);
	bool first = true;
	for (size_t i = 0; i < j->n; i++) {
		size_t na;
		char **as = split(j->addrs[i], &na);
		for (size_t k = 0; k < na; k++) {
			if (!first) {
				strcat(host, ",");
				strcat(addr, ",");
				strcat(prt, ",");
			}
			first = false;
			strcat(host, j->names[i]);
			strcat(addr, as[k]);
			if (per_host)
				strcat(prt, ports[i]);
		}
		free_list(as);
	}
	params_set(p, "host", host);
	params_set(p, "hostaddr", addr);
	if (per_host)
		params_set(p, "port", prt);
	free(host);
	free(addr);
	free(prt);
	free_list(ports);
}

static void resolved_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	job_t *j = NULL;
	ssize_t r = read(rs.fds[0], &j, sizeof(j));
	if (r != (ssize_t)sizeof(j))
		return; /* EAGAIN or EINTR: not yet */
	rs.busy = false;
	conn_params_t *p = rs.want;
	conn_resolved_cb done = rs.done;
	rs.want = NULL;
	rs.done = NULL;
	bool ok = true;
	for (size_t i = 0; i < j->n; i++)
		ok = ok && j->addrs[i];
	if (p && ok)
		apply(p, j);
	char err[sizeof(j->error)];
	snprintf(err, sizeof(err), "%s", j->error);
	job_free(j);
	if (done)
		done(ok, ok ? NULL : err);
}

bool conn_resolve_start(struct ev_loop *loop, conn_params_t *p, conn_resolved_cb done)
{
	rs.want = p;
	rs.done = done;
	if (rs.busy)
		return true; /* the running look-up answers this request too */
	if (rs.fds[0] < 0) {
		if (pipe2(rs.fds, O_CLOEXEC) < 0)
			return false;
		if (fd_set_nonblock(rs.fds[0]) < 0) {
			int e = errno;
			close(rs.fds[0]);
			close(rs.fds[1]);
			rs.fds[0] = rs.fds[1] = -1;
			errno = e;
			return false;
		}
		rs.loop = loop;
		ev_io_init(&rs.io, resolved_cb, rs.fds[0], EV_READ);
		ev_io_start(loop, &rs.io);
	}
	job_t *j = xcalloc(1, sizeof(*j));
	j->names = split(conn_params_get(p, "host"), &j->n);
	j->addrs = xcalloc(j->n, sizeof(*j->addrs));
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, resolve_thread, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		job_free(j);
		rs.want = NULL;
		rs.done = NULL;
		errno = rc;
		return false;
	}
	rs.busy = true;
	return true;
}

void conn_resolve_cancel(void)
{
	rs.want = NULL;
	rs.done = NULL;
}

void conn_resolve_free(void)
{
	conn_resolve_cancel();
	if (rs.fds[0] < 0)
		return;
	ev_io_stop(rs.loop, &rs.io);
	if (rs.busy) {
		/* A finished thread's job may wait in the pipe; a running one keeps its own (the
		 * process is exiting) and its write end stays open so it never gets EPIPE. */
		job_t *j = NULL;
		if (read(rs.fds[0], &j, sizeof(j)) == (ssize_t)sizeof(j)) {
			job_free(j);
			rs.busy = false;
		}
	}
	if (!rs.busy) {
		close(rs.fds[0]);
		close(rs.fds[1]);
		rs.fds[0] = rs.fds[1] = -1;
	}
}
