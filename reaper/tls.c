#include "reaper/tls.h"

#include <dlfcn.h>
#include <limits.h>
#include <string.h>

#include "common/log.h"

/* The few OpenSSL 3 entry points used, declared here so that building needs no libssl-dev:
 * the types stay opaque. */
#define SSL_ERROR_SSL 1
#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_WANT_WRITE 3
#define SSL_ERROR_SYSCALL 5
#define SSL_ERROR_ZERO_RETURN 6
#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define TLSEXT_NAMETYPE_host_name 0

static struct {
	void *lib;
	bool tried;
	void *ctx; /* SSL_CTX *, shared by every probe of this reaper */
	const void *(*client_method)(void);
	void *(*ctx_new)(const void *method);
	void (*ctx_free)(void *ctx);
	void *(*ssl_new)(void *ctx);
	int (*set_fd)(void *ssl, int fd);
	long (*ctrl)(void *ssl, int cmd, long larg, void *parg);
	void (*set_connect_state)(void *ssl);
	int (*do_handshake)(void *ssl);
	int (*get_error)(const void *ssl, int ret);
	int (*write)(void *ssl, const void *buf, int num);
	int (*read)(void *ssl, void *buf, int num);
	void (*ssl_free)(void *ssl);
	void (*err_clear)(void);
} ssl;

static bool load_symbols(void)
{
	struct {
		const char *name;
		void **slot;
	} syms[] = {
		{"TLS_client_method", (void **)&ssl.client_method},
		{"SSL_CTX_new", (void **)&ssl.ctx_new},
		{"SSL_CTX_free", (void **)&ssl.ctx_free},
		{"SSL_new", (void **)&ssl.ssl_new},
		{"SSL_set_fd", (void **)&ssl.set_fd},
		{"SSL_ctrl", (void **)&ssl.ctrl},
		{"SSL_set_connect_state", (void **)&ssl.set_connect_state},
		{"SSL_do_handshake", (void **)&ssl.do_handshake},
		{"SSL_get_error", (void **)&ssl.get_error},
		{"SSL_write", (void **)&ssl.write},
		{"SSL_read", (void **)&ssl.read},
		{"SSL_free", (void **)&ssl.ssl_free},
		{"ERR_clear_error", (void **)&ssl.err_clear}, /* libcrypto, a dependency */
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		*syms[i].slot = dlsym(ssl.lib, syms[i].name);
		if (!*syms[i].slot) {
			log_warn("TLS probes off: %s has no %s", "libssl.so.3", syms[i].name);
			return false;
		}
	}
	return true;
}

bool tls_available(void)
{
	if (ssl.tried)
		return ssl.ctx != NULL;
	ssl.tried = true;
	ssl.lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
	if (!ssl.lib) {
		log_warn("TLS probes off: %s", dlerror());
		return false;
	}
	if (!load_symbols())
		return false;
	/* A client context verifies nothing unless asked to: a dev server's certificate is
	 * self-signed, and the question is only whether it answers HTTP. */
	ssl.ctx = ssl.ctx_new(ssl.client_method());
	if (!ssl.ctx)
		log_warn("TLS probes off: SSL_CTX_new failed");
	return ssl.ctx != NULL;
}

tls_conn_t *tls_conn_new(int fd)
{
	if (!tls_available())
		return NULL;
	void *s = ssl.ssl_new(ssl.ctx);
	if (!s)
		return NULL;
	if (ssl.set_fd(s, fd) != 1) {
		ssl.ssl_free(s);
		return NULL;
	}
	ssl.ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)"localhost");
	ssl.set_connect_state(s);
	return s;
}

static tls_result_t result_of(tls_conn_t *c, int ret)
{
	switch (ssl.get_error(c, ret)) {
	case SSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_CLOSED;
	case SSL_ERROR_SYSCALL:
		return ret == 0 ? TLS_CLOSED : TLS_FAILED; /* EOF without close_notify, or reset */
	default:
		return TLS_FAILED;
	}
}

tls_result_t tls_handshake(tls_conn_t *c)
{
	ssl.err_clear();
	int r = ssl.do_handshake(c);
	return r == 1 ? TLS_DONE : result_of(c, r);
}

tls_result_t tls_write(tls_conn_t *c, const void *buf, size_t len)
{
	ssl.err_clear();
	int r = ssl.write(c, buf, len > INT_MAX ? INT_MAX : (int)len);
	return r > 0 ? TLS_DONE : result_of(c, r);
}

tls_result_t tls_read(tls_conn_t *c, void *buf, size_t len, size_t *got)
{
	ssl.err_clear();
	int r = ssl.read(c, buf, len > INT_MAX ? INT_MAX : (int)len);
	*got = r > 0 ? (size_t)r : 0;
	return r > 0 ? TLS_DONE : result_of(c, r);
}

void tls_conn_free(tls_conn_t *c)
{
	if (c)
		ssl.ssl_free(c);
}

void tls_release(void)
{
	if (ssl.ctx)
		ssl.ctx_free(ssl.ctx);
	ssl.ctx = NULL;
}
