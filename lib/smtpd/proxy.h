/*
 * The STARTTLS state machine of starttls-smtpd: it sees every client line
 * and every reply of the SMTP server behind us, and decides what passes,
 * what we answer ourselves, and when the switch to TLS happens.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>

#include "smtp.h"

struct buf;

enum proxy_state {
	PROXY_COMMAND,		/* client lines are commands */
	PROXY_DATAWAIT,		/* DATA forwarded; is the reply 354? */
	PROXY_BODY,		/* client bytes are the message */
	PROXY_LOOSEBODY,	/* ...after a bare LF: see client_body() */
	PROXY_TLSWANTED,	/* STARTTLS accepted: is TLS ready? */
	PROXY_STARTTLS,		/* "220 ready for tls" queued; stop */
	PROXY_QUIT,		/* the server is going away; no more commands */
	PROXY_REFUSED,		/* post-TLS server refused its greeting */
	PROXY_END		/* last reply queued; end the session */
};

#define PROXY_MAXTAGS	1024

struct proxy {
	int		 state;
	int		 tls;		/* the client side is TLS now */
	int		 offer;		/* we can do STARTTLS */
	int		 require;	/* no mail before STARTTLS */
	int		 transparent;	/* pass bytes untouched */
	int		 clienteof;	/* no more client bytes will come */
	int		 childeof;	/* no more server bytes will come */
	size_t		 discarded;	/* bytes the client sent after STARTTLS */

	/* the client line being passed on or thrown away */
	int		 cont;
	int		 verb;
	struct smtp_body body;

	/* replies the server owes, oldest first */
	unsigned char	 tag[PROXY_MAXTAGS];
	size_t		 taghead;
	size_t		 ntags;

	/* the server reply line being read */
	int		 reply_midline;	/* inside a line longer than the buffer */
	int		 reply_tag;
	int		 reply_lastline;
	int		 reply_code;

	/* an EHLO reply, held until complete so it can be rewritten */
	char		 ehlo[4096];
	size_t		 ehlolen;
	int		 ehlopass;	/* too long to hold: passed as is */

	char		 refusal[512];
};

/* What the relay should do once the client has every reply (proxy_next) */
enum proxy_next {
	PROXY_NEXT_RELAY,	/* go on */
	PROXY_NEXT_STARTTLS,	/* "220 ready for tls" is sent: handshake */
	PROXY_NEXT_END		/* the session is over */
};

/* How a session starts (proxy_init), or-ed together */
enum proxy_mode {
	PROXY_PLAIN = 0,	/* plaintext, STARTTLS refused with 454 */
	PROXY_TLS = 0x1,	/* the client side is TLS already (port 465) */
	PROXY_OFFER = 0x2,	/* TLS can be had: offer STARTTLS */
	PROXY_REQUIRE = 0x4,	/* UCSPITLS="!": no mail before STARTTLS */
	PROXY_TRANSPARENT = 0x8	/* UCSPITLS="-": pass bytes untouched */
};

void	proxy_init(struct proxy *p, int mode);
void	proxy_restart(struct proxy *p);
void	proxy_tlsready(struct proxy *p, int ready, struct buf *reply);
int	proxy_reading(const struct proxy *p);
int	proxy_listening(const struct proxy *p);
int	proxy_leftover(const struct proxy *p, const struct buf *in);
void	proxy_clientgone(struct proxy *p);
void	proxy_childgone(struct proxy *p);
int	proxy_clientended(const struct proxy *p);
int	proxy_tlswanted(const struct proxy *p);
enum proxy_next proxy_next(const struct proxy *p, size_t unread);
void	proxy_client(struct proxy *p, struct buf *in, struct buf *out,
	    struct buf *reply);
void	proxy_child(struct proxy *p, struct buf *in, struct buf *out);

#endif
