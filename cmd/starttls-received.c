/*
 * starttls-received: qmail-smtpd's Received field says that TLS was used.
 *
 *	QMAILQUEUE=/usr/local/bin/starttls-received	(starttls-smtpd sets it)
 *
 * qmail-smtpd runs its queue program in the qmail home with the message
 * on fd 0 and the envelope on fd 1, its own Received field first.  In the
 * TLS phase starttls-smtpd points $QMAILQUEUE here, and keeps what it was
 * in $STARTTLS_QMAILQUEUE.  This program starts that queue program (or
 * bin/qmail-queue), which gets fd 1 as it is, and streams the message to
 * it with one change: "with SMTP" in qmail-smtpd's own field becomes
 * "with ESMTPS (...) tls ..." (received.h); every other byte passes as it
 * came.  A message that does not begin with that field, or a session
 * without $SSL_PROTOCOL, passes untouched.  It exits as the queue program
 * did; its own failures are qmail-queue's temporary codes, so that
 * qmail-smtpd answers 451 and the sender tries again: a message is never
 * lost here.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "io.h"
#include "log.h"
#include "received.h"

extern char	**environ;

#define QUEUE_MS	(24 * 3600 * 1000L)	/* qmail-queue's own alarm */

/* qmail-queue's exit codes (qmail-queue(8)) that this program gives */
enum qq_exit {
	QQ_OK = 0,
	QQ_NOMEM = 51,		/* out of memory */
	QQ_WRITE = 53,		/* write error */
	QQ_READ = 54,		/* unable to read the message */
	QQ_BUG = 81,		/* internal bug */
	QQ_NOEXEC = 120		/* unable to exec */
};

/* how the message went to the queue program */
enum passed {
	PASSED_WHOLE,
	PASSED_REFUSED,		/* it stopped reading (EPIPE): it has its say */
	PASSED_BROKEN		/* we failed: it must not queue half of it */
};

static char	 buf[RECEIVED_MAX];

/*
 * prog with fd 0 from in, without out, and SIGPIPE as it would have had
 * without us: posix_spawn(3), which needs no copy of our memory.  0, or
 * an errno.
 */
static int
queue_spawn(pid_t *pid, const char *prog, int in, int out)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	int				 r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return r;
	if ((r = child_spawnattr(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return r;
	}
	if ((r = posix_spawn_file_actions_adddup2(&fa, in, 0)) == 0 &&
	    (r = posix_spawn_file_actions_addclose(&fa, in)) == 0 &&
	    (r = posix_spawn_file_actions_addclose(&fa, out)) == 0)
		r = posix_spawn(pid, prog, &fa, &at,
		    (char *[]){ (char *)prog, NULL }, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

/*
 * The queue program that would have run without us, with $QMAILQUEUE as
 * it was: run as qmail-smtpd runs it, by execv() relative to the qmail
 * home, with the message from pipe fd.
 */
static pid_t
queue_start(int *fd)
{
	const char	*prog;
	int		 p[2], r;
	pid_t		 pid;

	if ((prog = getenv("STARTTLS_QMAILQUEUE")) != NULL && *prog != '\0') {
		if (setenv("QMAILQUEUE", prog, 1) == -1)
			log_fatal(QQ_NOMEM, "unable to set QMAILQUEUE: %s",
			    strerror(errno));
	} else {
		prog = "bin/qmail-queue";
		unsetenv("QMAILQUEUE");
	}
	unsetenv("STARTTLS_QMAILQUEUE");
	if (pipe(p) == -1)
		log_fatal(QQ_BUG, "unable to make a pipe: %s", strerror(errno));
	if ((r = queue_spawn(&pid, prog, p[0], p[1])) != 0)
		log_fatal(QQ_NOEXEC, "unable to run %s: %s", prog, strerror(r));
	close(p[0]);
	*fd = p[1];
	return pid;
}

/* 1 once the head is decided, 0 at the end of the message, -1 error. */
static int
head_read(size_t *len, enum received_head *what, size_t *word,
    size_t *wordlen)
{
	ssize_t	 r;

	*what = received_find(buf, *len, word, wordlen);
	while (*what == RECEIVED_MORE) {
		r = io_read(0, buf + *len, sizeof(buf) - *len,
		    io_now() + QUEUE_MS);
		if (r <= 0)
			return (int)r;
		*len += (size_t)r;
		*what = received_find(buf, *len, word, wordlen);
	}
	return 1;
}

/*
 * The head of the message, with TLS in qmail-smtpd's field if it is
 * there, to fd; then 0, or -1 if the queue program is gone.
 */
static int
head_pass(int fd, size_t len, enum received_head what, size_t word,
    size_t wordlen)
{
	const char	*version = getenv("SSL_PROTOCOL");
	char		 proto[256];
	int		 n = -1;

	if (what == RECEIVED_QMAIL && version != NULL && *version != '\0')
		n = received_protocol(proto, sizeof(proto), version,
		    getenv("SSL_CIPHER"), getenv("SSL_CLIENT_VERIFY"));
	if (n < 0)
		return io_writeall(fd, buf, len, io_now() + QUEUE_MS);
	if (io_writeall(fd, buf, word, io_now() + QUEUE_MS) == -1 ||
	    io_writeall(fd, proto, (size_t)n, io_now() + QUEUE_MS) == -1)
		return -1;
	return io_writeall(fd, buf + word + wordlen, len - word - wordlen,
	    io_now() + QUEUE_MS);
}

/* The rest of the message, as it comes: 0, -1 gone, QQ_READ. */
static int
rest_pass(int fd)
{
	ssize_t	 r;

	while ((r = io_read(0, buf, sizeof(buf), io_now() + QUEUE_MS)) > 0)
		if (io_writeall(fd, buf, (size_t)r, io_now() +
		    QUEUE_MS) == -1)
			return -1;
	return r == 0 ? 0 : QQ_READ;
}

/*
 * How the queue program ended is how we end.  If the message could not
 * be passed on whole, one that stopped reading (EPIPE) has its say; one
 * that still reads is stopped first, so that it never queues half a
 * message, and we say why instead.
 */
static int
queue_end(pid_t pid, int fd, enum passed passed, enum qq_exit why)
{
	pid_t	 r;
	int	 status, stopped = 0;

	if (passed == PASSED_BROKEN) {
		kill(pid, SIGKILL);
		stopped = 1;
	}
	close(fd);
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (r == -1)
		log_fatal(QQ_BUG, "unable to wait for the queue program: %s",
		    strerror(errno));
	if (stopped)
		return why;
	if (WIFSIGNALED(status)) {
		/* qmail-smtpd says "qq crashed" for us, as for it */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return QQ_BUG;
	}
	return WEXITSTATUS(status);
}

/* A failed write: did the queue program stop reading, or did we fail? */
static enum passed
write_failed(void)
{
	return errno == EPIPE ? PASSED_REFUSED : PASSED_BROKEN;
}

int
main(void)
{
	enum received_head	 what;
	size_t			 len = 0, word = 0, wordlen = 0;
	pid_t			 pid;
	int			 fd, r;

	log_init("starttls-received");
	signal(SIGPIPE, SIG_IGN);
	pid = queue_start(&fd);
	if ((r = head_read(&len, &what, &word, &wordlen)) == -1) {
		log_info("fatal: unable to read the message: %s",
		    strerror(errno));
		return queue_end(pid, fd, PASSED_BROKEN, QQ_READ);
	}
	if (r == 0)
		what = RECEIVED_OTHER;	/* ended before the field did */
	if (head_pass(fd, len, what, word, wordlen) == -1)
		return queue_end(pid, fd, write_failed(), QQ_WRITE);
	if (r == 1 && (r = rest_pass(fd)) == -1)
		return queue_end(pid, fd, write_failed(), QQ_WRITE);
	if (r == QQ_READ) {
		log_info("fatal: unable to read the message: %s",
		    strerror(errno));
		return queue_end(pid, fd, PASSED_BROKEN, QQ_READ);
	}
	return queue_end(pid, fd, PASSED_WHOLE, QQ_OK);
}
