/*
 * qmail control files: a directory of small text files, one setting each.
 * A missing file means "use the default" and is not an error; any other
 * failure to read one is (qmail's rule: never guess on a read error).
 */
#ifndef CONTROL_H
#define CONTROL_H

#include <stddef.h>

#define CONTROL_MAX	(1024 * 1024)	/* no control file is this large */

int	control_path(char *out, size_t outlen, const char *dir,
	    const char *name);
int	control_open(const char *dir, const char *name);
int	control_readfile(const char *dir, const char *name, char **out,
	    size_t *outlen);
int	control_readline(const char *dir, const char *name, char *out,
	    size_t outlen);
int	control_readint(const char *dir, const char *name, long *out);
int	control_hasline(const char *dir, const char *name, const char *s);
int	control_haslinein(const char *p, size_t len, const char *s);

#endif
