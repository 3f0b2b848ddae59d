/*
 * Small descriptor helpers.  io_writeall() is the full-write loop that
 * every blocking-style write goes through: partial writes, EINTR and
 * EAGAIN are handled, and the wait is bounded by a deadline.
 */
#ifndef IO_H
#define IO_H

#include <sys/types.h>

#include <stddef.h>

long	io_now(void);
int	io_nonblock(int);
int	io_cloexec(int);
int	io_wait(int, short, long);
int	io_writeall(int, const void *, size_t, long);
ssize_t	io_read(int, void *, size_t, long);
int	io_readall(int, size_t, char **, size_t *);
void	io_nodelay(int);

#endif
