/*
 * Unit tests for lib/, one file per module in tests/unit/, each test
 * registered where it is written (unit.h).  This file is the harness.
 *
 * Output: one TAP line per test on stdout, "ok N - name" or
 * "not ok N - name: detail"; exit 0 when all passed, 1 otherwise.
 */
#include "unit.h"

static int	ntests, nfailed;
char		why[2048];

static struct {
	const char	*name;	/* NULL: a suite, which calls run() itself */
	void		(*fn)(void);
} units[512];
static size_t	nunits;

void
unit_add(const char *name, void (*fn)(void))
{
	if (nunits == sizeof(units) / sizeof(units[0])) {
		fprintf(stderr, "unit: too many tests for the table\n");
		exit(1);
	}
	units[nunits].name = name;
	units[nunits].fn = fn;
	nunits++;
}

/* Printable, one-line rendering of bytes for test names and details. */
const char *
esc(const char *s, size_t n)
{
	static char	 bufs[4][320];
	static int	 k;
	char		*o = bufs[k++ % 4];
	size_t		 i, j = 0;
	unsigned char	 c;

	for (i = 0; i < n && j < sizeof(bufs[0]) - 8; i++) {
		c = (unsigned char)s[i];
		if (c == '\r') {
			o[j++] = '\\';
			o[j++] = 'r';
		} else if (c == '\n') {
			o[j++] = '\\';
			o[j++] = 'n';
		} else if (c == '\\' || c == '"') {
			o[j++] = '\\';
			o[j++] = (char)c;
		} else if (c < 32 || c > 126)
			j += (size_t)snprintf(o + j, 5, "\\x%02x", c);
		else
			o[j++] = (char)c;
	}
	if (i < n) {
		memcpy(o + j, "...", 3);
		j += 3;
	}
	o[j] = '\0';
	return o;
}

void
run(const char *name, void (*fn)(void))
{
	why[0] = '\0';
	fn();
	ntests++;
	if (why[0] == '\0')
		printf("ok %d - %s\n", ntests, name);
	else {
		nfailed++;
		printf("not ok %d - %s: %s\n", ntests, name, why);
	}
	fflush(stdout);
}

/* Does b hold exactly s/n?  Reports the difference if not. */
int
buf_is(const struct buf *b, const char *s, size_t n, const char *what,
    int line)
{
	if (b->len == n && memcmp(buf_data(b), s, n) == 0)
		return 1;
	FAIL("line %d: %s holds \"%s\" (%zu bytes), expected \"%s\" "
	    "(%zu bytes)", line, what, esc(buf_data(b), b->len), b->len,
	    esc(s, n), n);
	return 0;
}

int
main(void)
{
	size_t	 i;

	for (i = 0; i < nunits; i++)
		if (units[i].name == NULL)
			units[i].fn();
		else
			run(units[i].name, units[i].fn);
	return nfailed == 0 ? 0 : 1;
}
