/*
 * Unit tests: the control-file readers (lib/control.c).
 */
#include "unit.h"

static char	tmpdir[64];

static int
tmp_make(void)
{
	strcpy(tmpdir, "/tmp/starttls-unit.XXXXXX");
	return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static void
tmp_remove(void)
{
	char		 path[512];
	DIR		*d;
	struct dirent	*e;

	if (tmpdir[0] == '\0')
		return;
	if ((d = opendir(tmpdir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", tmpdir,
			    e->d_name);
			if (unlink(path) == -1)
				rmdir(path);	/* the test's directory */
		}
		closedir(d);
	}
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

static int
tmp_write(const char *name, const char *s, size_t n)
{
	char	 path[512];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		return -1;
	if (write(fd, s, n) != (ssize_t)n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

#define WRITE(name, s)	CHECK(tmp_write(name, L(s)) == 0)

static void
t_readline_first(void)
{
	char	 out[128];

	WRITE("me", "mail.example.com \t\r\nsecond line\n");
	memset(out, 'Z', sizeof(out));
	CHECK_INT(control_readline(tmpdir, "me", out, sizeof(out)), 1);
	CHECK_STR(out, "mail.example.com");
}

static void
t_readline_nonewline(void)
{
	char	 out[128];

	WRITE("me2", "host.example.org");
	CHECK_INT(control_readline(tmpdir, "me2", out, sizeof(out)), 1);
	CHECK_STR(out, "host.example.org");
}

static void
t_readline_empty(void)
{
	char	 out[128] = "junk";

	WRITE("empty", "");
	CHECK_INT(control_readline(tmpdir, "empty", out, sizeof(out)), 1);
	CHECK_STR(out, "");
}

static void
t_readline_missing(void)
{
	char	 out[128];

	CHECK_INT(control_readline(tmpdir, "nosuchfile", out, sizeof(out)),
	    0);
}

static void
t_readline_toolong(void)
{
	char	 out[8];

	WRITE("long", "0123456789\n");
	CHECK_INT(control_readline(tmpdir, "long", out, sizeof(out)), -1);
}

/* a read error (here: the name is a directory) is not "missing" */
static void
t_readline_error(void)
{
	char	 out[128], path[512];

	snprintf(path, sizeof(path), "%s/adir", tmpdir);
	CHECK(mkdir(path, 0755) == 0);
	CHECK_INT(control_readline(tmpdir, "adir", out, sizeof(out)), -1);
}

static void
t_readint_good(void)
{
	long	 v = -5;

	WRITE("timeoutsmtpd", "1200 \n");
	CHECK_INT(control_readint(tmpdir, "timeoutsmtpd", &v), 1);
	CHECK_INT(v, 1200);
}

static void
t_readint_bad(void)
{
	long	 v = 77;

	WRITE("bad1", "12x\n");
	CHECK_INT(control_readint(tmpdir, "bad1", &v), -1);
	WRITE("bad2", "\n");
	CHECK_INT(control_readint(tmpdir, "bad2", &v), -1);
	WRITE("bad3", "-5\n");
	CHECK_INT(control_readint(tmpdir, "bad3", &v), -1);
	WRITE("bad4", "99999999999999999999999\n");
	CHECK_INT(control_readint(tmpdir, "bad4", &v), -1);
	CHECK_INT(v, 77);
}

static void
t_readint_missing(void)
{
	long	 v = 77;

	CHECK_INT(control_readint(tmpdir, "nosuchint", &v), 0);
	CHECK_INT(v, 77);
}

static const char tlsclients[] =
    "# relaying clients\n"
    "\n"
    "  Alice@Example.COM \t\r\n"
    "   \n"
    "#carol@example.com\n"
    "bob@example.com";

static void
t_hasline_match(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "alice@example.com"),
	    1);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "ALICE@EXAMPLE.COM"),
	    1);
	/* last line, no newline */
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "bob@example.com"), 1);
}

static void
t_hasline_nomatch(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "bob@example.co"), 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "ob@example.com"), 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "dave@example.com"),
	    0);
}

static void
t_hasline_comments(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "carol@example.com"),
	    0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "#carol@example.com"),
	    0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", "# relaying clients"),
	    0);
}

static void
t_hasline_empty(void)
{
	CHECK(tmp_write("tlsclients", L(tlsclients)) == 0);
	CHECK_INT(control_hasline(tmpdir, "tlsclients", ""), 0);
}

static void
t_hasline_missing(void)
{
	CHECK_INT(control_hasline(tmpdir, "nosuchlist", "alice@example.com"),
	    0);
}

/* ------------------------------------------------------------------ */

static void
t_control_tmpdir(void)
{
	CHECK(tmp_make() == 0);
}


static void
control_files(void)
{
	run("control temporary directory", t_control_tmpdir);
	if (tmpdir[0] != '\0') {
		run("control_readline first line, trailing blanks and CR "
		    "stripped", t_readline_first);
		run("control_readline without newline", t_readline_nonewline);
		run("control_readline empty file", t_readline_empty);
		run("control_readline missing file is 0", t_readline_missing);
		run("control_readline too long is -1", t_readline_toolong);
		run("control_readline read error is -1", t_readline_error);
		run("control_readint number", t_readint_good);
		run("control_readint bad number is -1", t_readint_bad);
		run("control_readint missing file is 0", t_readint_missing);
		run("control_hasline case-insensitive, blanks ignored",
		    t_hasline_match);
		run("control_hasline no partial matches", t_hasline_nomatch);
		run("control_hasline comment lines never match",
		    t_hasline_comments);
		run("control_hasline empty lines never match",
		    t_hasline_empty);
		run("control_hasline missing file is 0", t_hasline_missing);
		tmp_remove();
	}
}
UNIT_SUITE(control_files);
