/*
 * servercerts/<name>.pem for the sandboxed relay, read by the standby
 * (keyfetch.c).
 */
#ifndef KEYFETCH_H
#define KEYFETCH_H

#include <stddef.h>
#include <stdint.h>

int	keyfetch_open(int fds[2]);
void	keyfetch_serve(int fd, const char *dir);
int	keyfetch_get(int fd, const char *name, uint8_t **pem, size_t *len,
	    long deadline);

#endif
