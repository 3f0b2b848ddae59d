/*
 * The relay loop: one poll(2) loop moving bytes between the client and
 * the SMTP server behind us, with the proxy state machine in between.
 */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>

struct conn;
struct child;
struct proxy;

enum relay_end {
	RELAY_DONE,		/* the server is gone and its replies sent */
	RELAY_STARTTLS,		/* "220 ready for tls" sent: do the handshake */
	RELAY_TIMEOUT,		/* nothing moved for the idle timeout */
	RELAY_CLIENTGONE	/* the client went away; the server was told */
};

/*
 * Asked when the client's STARTTLS has been accepted: is TLS ready?
 * Non-zero: the client gets 220 and the relay returns RELAY_STARTTLS
 * once it is sent; zero: 454, and the session goes on in plaintext.
 */
typedef int	relay_tls_fn(void *arg);

int	relay_run(struct conn *cl, struct child *ch, struct proxy *px,
	    int idle_ms, relay_tls_fn *tlsready, void *arg);

#endif
