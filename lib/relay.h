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

int	relay_run(struct conn *, struct child *, struct proxy *, int);

#endif
