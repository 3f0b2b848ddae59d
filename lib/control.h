/*
 * qmail control files: a directory of small text files, one setting each.
 * A missing file means "use the default" and is not an error; any other
 * failure to read one is (qmail's rule: never guess on a read error).
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stddef.h>

#define CONTROL_MAX	(1024 * 1024)	/* no control file is this large */

int	control_path(char *, size_t, const char *, const char *);
int	control_open(const char *, const char *);
int	control_readfile(const char *, const char *, char **, size_t *);
int	control_readline(const char *, const char *, char *, size_t);
int	control_readint(const char *, const char *, long *);
int	control_hasline(const char *, const char *, const char *);
int	control_haslinein(const char *, size_t, const char *);

#endif
