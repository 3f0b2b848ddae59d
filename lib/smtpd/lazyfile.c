/*
 * A control file opened before the relay is sandboxed and read only if
 * it is needed after: the sandboxed relay cannot open a file, and most
 * sessions never present a client certificate, so most never pay for
 * reading clientca.pem.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "control.h"
#include "io.h"
#include "lazyfile.h"

/* Nothing opened yet. */
void
lazyfile_init(struct lazyfile *f)
{
	f->fd = -1;
	f->err = 0;
	f->data = NULL;
	f->len = 0;
}

void
lazyfile_open(struct lazyfile *f, const char *dir, const char *name)
{
	if ((f->fd = control_open(dir, name)) == -1 && errno != ENOENT)
		f->err = errno;
}

/* The file's contents, read now if not yet: 1, 0 (absent) or -1 (err). */
int
lazyfile_get(struct lazyfile *f, size_t max)
{
	if (f->fd != -1) {
		if (io_readall(f->fd, max, &f->data, &f->len) == -1)
			f->err = errno != 0 ? errno : EIO;
		close(f->fd);
		f->fd = -1;
	}
	return f->data != NULL ? 1 : f->err != 0 ? -1 : 0;
}

void
lazyfile_close(struct lazyfile *f)
{
	if (f->fd != -1)
		close(f->fd);
	free(f->data);
	f->fd = -1;
	f->data = NULL;
	f->len = 0;
	f->err = 0;
}
