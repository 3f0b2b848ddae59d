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
int	io_nonblock(int fd);
int	io_cloexec(int fd);
int	io_wait(int fd, short events, long deadline);
ssize_t	io_read(int fd, void *buf, size_t len, long deadline);
int	io_readall(int fd, size_t max, char **out, size_t *outlen);
void	io_nodelay(int fd);
ssize_t	io_write(int fd, const void *buf, size_t len);
int	io_writeall(int fd, const void *buf, size_t len, long deadline);

#endif
