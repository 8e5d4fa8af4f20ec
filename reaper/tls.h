#ifndef DEVSUP_TLS_H
#define DEVSUP_TLS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Just enough of a TLS client for the health check of an HTTPS dev server (SPEC §4.4): a
 * non-blocking handshake without certificate checks (a dev server's certificate is
 * self-signed), SNI "localhost", then HEAD over it. OpenSSL is loaded with dlopen on first use,
 * so that only the reapers that meet TLS map it; a plain reaper stays small.
 */

typedef enum { TLS_DONE, TLS_WANT_READ, TLS_WANT_WRITE, TLS_CLOSED, TLS_FAILED } tls_result_t;

typedef struct tls_conn tls_conn_t;

/* True once libssl is loaded (loads it on the first call); false when it cannot be. */
bool tls_available(void);
/* A client connection over the connected non-blocking socket fd (not taken over). */
tls_conn_t *tls_conn_new(int fd);
tls_result_t tls_handshake(tls_conn_t *c);
/* Writes all of buf, or nothing yet (WANT_*: call again with the same arguments). */
tls_result_t tls_write(tls_conn_t *c, const void *buf, size_t len);
/* Reads up to len bytes: TLS_DONE with *got > 0, or WANT_*, CLOSED, FAILED. */
tls_result_t tls_read(tls_conn_t *c, void *buf, size_t len, size_t *got);
void tls_conn_free(tls_conn_t *c);
/* Releases the shared client context (libssl itself stays mapped). */
void tls_release(void);

#endif
