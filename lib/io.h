/*
 * Small descriptor helpers, with no TLS in them, so that a program that
 * needs none (starttls-received) links no TLS library: the full-write
 * loop for a plain descriptor is io_writeall(); conn_writeall() in
 * conn.c is the same over TLS.
 */
#ifndef IO_H
#define IO_H

#include <sys/types.h>

#include <stddef.h>

#define IO_AGAIN	(-2)	/* io_write: it would block */

long	io_now(void);
int	io_nonblock(int);
int	io_cloexec(int);
int	io_wait(int, short, long);
ssize_t	io_read(int, void *, size_t, long);
int	io_readall(int, size_t, char **, size_t *);
void	io_nodelay(int);
ssize_t	io_write(int, const void *, size_t);
int	io_writeall(int, const void *, size_t, long);

#endif
