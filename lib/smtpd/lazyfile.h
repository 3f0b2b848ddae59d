/*
 * A control file opened now and read later, if at all (lazyfile.c).
 */
#ifndef LAZYFILE_H
#define LAZYFILE_H

#include <stddef.h>

struct lazyfile {
	int	 fd;			/* open, not read yet; or -1 */
	int	 err;			/* errno of a failed open or read */
	char	*data;			/* once read; NULL: absent, or err */
	size_t	 len;
};

void	lazyfile_init(struct lazyfile *f);
void	lazyfile_open(struct lazyfile *f, const char *dir, const char *name);
int	lazyfile_get(struct lazyfile *f, size_t max);
void	lazyfile_close(struct lazyfile *f);

#endif
