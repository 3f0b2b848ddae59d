/*
 * Small descriptor helpers.  The full-write loop is conn_writeall() (and
 * conn_fdwriteall() for a plain descriptor), in conn.c.
 */
#ifndef IO_H
#define IO_H

#include <sys/types.h>

#include <stddef.h>

long	io_now(void);
int	io_nonblock(int);
int	io_cloexec(int);
int	io_wait(int, short, long);
ssize_t	io_read(int, void *, size_t, long);
int	io_readall(int, size_t, char **, size_t *);
void	io_nodelay(int);

#endif
