/*
 * The unit tests' harness (tests/unit/unit.c): TAP output, checks that
 * end a test at its first failure, and registration next to each test:
 *
 *	static void
 *	t_something(void)
 *	{
 *		CHECK_INT(f(1), 2);
 *	}
 *	UNIT(t_something, "f of 1 is 2");
 *
 * UNIT_SUITE(fn) registers a function that calls run() itself, for
 * tests made from a table of cases.
 */
#ifndef UNIT_H
#define UNIT_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blast.h"
#include "buf.h"
#include "child.h"
#include "conn.h"
#include "control.h"
#include "dns.h"
#include "io.h"
#include "ipme.h"
#include "proxy.h"
#include "route.h"
#include "sandbox.h"
#include "smtp.h"
#include "smtpc.h"
#include "text.h"

/* Register a test, or a suite; main() runs them in the order written. */
void	unit_add(const char *, void (*)(void));
#define UNIT(fn, name)							\
	static void __attribute__((constructor))			\
	fn##_add(void)							\
	{								\
		unit_add((name), (fn));					\
	}								\
	struct unit_semicolon_
#define UNIT_SUITE(fn)	UNIT(fn, NULL)

const char	*esc(const char *, size_t);
void		 run(const char *, void (*)(void));
int		 buf_is(const struct buf *, const char *, size_t, const char *,
		    int);

extern char	why[2048];		/* first failure of the current test */

#define FAIL(...) do {							\
	if (why[0] == '\0')						\
		snprintf(why, sizeof(why), __VA_ARGS__);		\
} while (0)

/* A failed check ends the test. */
#define CHECK(c) do {							\
	if (!(c)) {							\
		FAIL("line %d: %s", __LINE__, #c);			\
		return;							\
	}								\
} while (0)

#define CHECK_INT(a, b) do {						\
	long chk_got_ = (long)(a), chk_want_ = (long)(b);		\
	if (chk_got_ != chk_want_) {					\
		FAIL("line %d: %s is %ld, expected %ld", __LINE__, #a,	\
		    chk_got_, chk_want_);				\
		return;							\
	}								\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *chk_got_ = (a), *chk_want_ = (b);			\
	if (strcmp(chk_got_, chk_want_) != 0) {				\
		FAIL("line %d: %s is \"%s\", expected \"%s\"", __LINE__,	\
		    #a, esc(chk_got_, strlen(chk_got_)),		\
		    esc(chk_want_, strlen(chk_want_)));			\
		return;							\
	}								\
} while (0)




/* b must hold exactly the literal s; then it is emptied. */
#define EXPECT(b, s) do {						\
	if (!buf_is(&(b), (s), sizeof(s) - 1, #b, __LINE__))		\
		return;							\
	buf_drop(&(b), (b).len);					\
} while (0)

#define EXPECT_EMPTY(b) do {						\
	if (!buf_is(&(b), "", 0, #b, __LINE__))				\
		return;							\
} while (0)

#define L(s)	(s), sizeof(s) - 1

#endif
