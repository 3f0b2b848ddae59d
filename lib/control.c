/*
 * Readers for qmail control files.  Every function returns 1 when the file
 * was read, 0 when it does not exist, -1 with errno set on any other error.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "control.h"
#include "io.h"

int
control_path(char *out, size_t outlen, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(out, outlen, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A control file opened for reading: the descriptor, or -1. */
int
control_open(const char *dir, const char *name)
{
	char	 path[PATH_MAX];

	if (control_path(path, sizeof(path), dir, name) == -1)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* Whole file into a NUL-terminated malloc'd buffer. */
int
control_readfile(const char *dir, const char *name, char **out, size_t *outlen)
{
	int	 fd, r, saved;

	*out = NULL;
	*outlen = 0;
	if ((fd = control_open(dir, name)) == -1)
		return errno == ENOENT ? 0 : -1;
	r = io_readall(fd, CONTROL_MAX, out, outlen);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

static int
isblankc(int c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* First line, without trailing white space, as qmail's control_readline. */
int
control_readline(const char *dir, const char *name, char *out, size_t outlen)
{
	char	*p;
	size_t	 len, n;
	int	 r;

	if ((r = control_readfile(dir, name, &p, &len)) != 1)
		return r;
	n = strcspn(p, "\n");
	while (n > 0 && isblankc((unsigned char)p[n - 1]))
		n--;
	if (n >= outlen) {
		free(p);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	free(p);
	return 1;
}

int
control_readint(const char *dir, const char *name, long *out)
{
	char	 line[64], *end;
	long	 v;
	int	 r;

	if ((r = control_readline(dir, name, line, sizeof(line))) != 1)
		return r;
	errno = 0;
	v = strtol(line, &end, 10);
	if (end == line || *end != '\0' || errno != 0 || v < 0) {
		errno = EINVAL;
		return -1;
	}
	*out = v;
	return 1;
}

/*
 * Is s one of the lines of the file?  Lines are compared without case and
 * without surrounding white space; empty lines and lines starting with '#'
 * never match.  Returns 1 on a match, 0 on none (or no file), -1 on error.
 */
int
control_hasline(const char *dir, const char *name, const char *s)
{
	char	*p;
	size_t	 len;
	int	 r;

	if ((r = control_readfile(dir, name, &p, &len)) != 1)
		return r;
	r = control_haslinein(p, len, s);
	free(p);
	return r;
}

/* The same for a file already read: 1 or 0. */
int
control_haslinein(const char *p, size_t len, const char *s)
{
	const char	*line, *next, *end;

	for (line = p; line < p + len; line = next) {
		end = memchr(line, '\n', p + len - line);
		next = end ? end + 1 : p + len;
		if (end == NULL)
			end = p + len;
		while (line < end && isblankc((unsigned char)*line))
			line++;
		while (end > line && isblankc((unsigned char)end[-1]))
			end--;
		if (line == end || *line == '#')
			continue;
		if ((size_t)(end - line) == strlen(s) &&
		    strncasecmp(line, s, end - line) == 0)
			return 1;
	}
	return 0;
}
