/*
 * The configuration check (starttls-smtpd -C, starttls-remote -C): the
 * control files read as a session reads them, one line per finding on
 * standard output (confcheck.c).
 */
#ifndef CONFCHECK_H
#define CONFCHECK_H

enum check_level {
	CHECK_OK,		/* as it should be */
	CHECK_WARNING,		/* works, but look at it */
	CHECK_UNCHECKED,	/* could not be checked (a file not readable) */
	CHECK_ERROR		/* breaks TLS, or what the file is for */
};

struct confcheck {
	const char	*dir;		/* the control directory */
	int		 seen[CHECK_ERROR + 1];
};

/* whether a file must be there */
enum check_need {
	CHECK_OPTIONAL,
	CHECK_REQUIRED
};

void	confcheck_init(struct confcheck *c, const char *dir);
void	confcheck_say(struct confcheck *c, const char *file,
	    enum check_level level, const char *fmt, ...)
	    __attribute__((__format__ (printf, 4, 5)));
void	confcheck_note(struct confcheck *c, const char *what,
	    enum check_level level, const char *fmt, ...)
	    __attribute__((__format__ (printf, 4, 5)));
void	confcheck_keypair(struct confcheck *c, const char *file,
	    const char *name, enum check_need need);
void	confcheck_servercerts(struct confcheck *c);
void	confcheck_clientca(struct confcheck *c);
void	confcheck_tlsclients(struct confcheck *c);
void	confcheck_ciphers(struct confcheck *c, const char *file,
	    const char *envname);
void	confcheck_tlshosts(struct confcheck *c);
void	confcheck_cafile(struct confcheck *c, const char *file,
	    const char *path);
int	confcheck_entries(struct confcheck *c, const char *sub,
	    void (*fn)(struct confcheck *c, const char *file,
	    const char *entry));
int	confcheck_status(const struct confcheck *c);

#endif
