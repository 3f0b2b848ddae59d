/*
 * The message, CRLF-ended and dot-stuffed, as qmail-remote sends it.
 */
#ifndef BLAST_H
#define BLAST_H

struct smtpc;

enum blast {
	BLAST_OK,		/* sent; the final "." is the caller's */
	BLAST_READ_FAILED,	/* the message could not be read */
	BLAST_PARTIAL_LINE,	/* its last line has no end: refuse it */
	BLAST_DIED		/* the connection died */
};

enum blast	blast_send(int fd, struct smtpc *smtp);

#endif
