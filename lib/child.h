/*
 * The SMTP server behind us (qmail-smtpd, or rblsmtpd ... qmail-smtpd):
 * started with its stdin and stdout on pipes to us, stderr shared (the
 * log), and an environment we build for it.
 */
#ifndef CHILD_H
#define CHILD_H

#include <sys/types.h>

struct child {
	pid_t	 pid;
	int	 in;		/* we write: the child's stdin */
	int	 out;		/* we read: the child's stdout */
};

struct env {
	char	**vars;
	size_t	  n;
	size_t	  size;
};

int	env_init(struct env *, char **);
int	env_set(struct env *, const char *, const char *);
void	env_unset(struct env *, const char *);
void	env_unset_prefix(struct env *, const char *);
void	env_free(struct env *);

int	child_start(struct child *, char **, struct env *);
void	child_closein(struct child *);
void	child_closeout(struct child *);
int	child_end(struct child *, int);

#endif
