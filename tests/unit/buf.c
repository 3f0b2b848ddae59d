/*
 * Unit tests: the fixed buffers (lib/smtpd/buf.c).
 */
#include "unit.h"

static void
t_buf_put(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(b.len, 0);
	CHECK_INT(buf_room(&b), 8);
	CHECK_INT(buf_put(&b, "abc", 3), 0);
	CHECK_INT(buf_puts(&b, "de"), 0);
	if (!buf_is(&b, "abcde", 5, "b", __LINE__))
		return;
	CHECK_INT(buf_room(&b), 3);
	CHECK_INT(buf_full(&b), 0);
	CHECK_INT(buf_put(&b, "fgh", 3), 0);
	CHECK_INT(buf_full(&b), 1);
	CHECK_INT(buf_room(&b), 0);
}
UNIT(t_buf_put, "buf put and room");

static void
t_buf_drop(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcdef", 6), 0);
	buf_drop(&b, 2);
	if (!buf_is(&b, "cdef", 4, "b", __LINE__))
		return;
	buf_drop(&b, 0);
	if (!buf_is(&b, "cdef", 4, "b", __LINE__))
		return;
	buf_drop(&b, 100);
	CHECK_INT(b.len, 0);
	CHECK_INT(b.off, 0);
	CHECK_INT(buf_room(&b), 8);
}
UNIT(t_buf_drop, "buf drop");

/* room counts the space freed at the front: held bytes slide down */
static void
t_buf_room_slides(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcdef", 6), 0);
	buf_drop(&b, 4);
	CHECK_INT(buf_room(&b), 6);
	CHECK_INT(b.off, 0);
	CHECK(buf_tail(&b) == m + 2);
	memcpy(buf_tail(&b), "XYZ", 3);
	buf_added(&b, 3);
	if (!buf_is(&b, "efXYZ", 5, "b", __LINE__))
		return;
}
UNIT(t_buf_room_slides, "buf room slides held bytes to the front");

/* put slides the held bytes when the tail is short but the total fits */
static void
t_buf_put_slides(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcdef", 6), 0);
	buf_drop(&b, 4);
	CHECK_INT(buf_put(&b, "ghijkl", 6), 0);
	if (!buf_is(&b, "efghijkl", 8, "b", __LINE__))
		return;
	CHECK_INT(buf_full(&b), 1);
}
UNIT(t_buf_put_slides, "buf put slides when the tail is short");

static void
t_buf_put_all_or_nothing(void)
{
	char		 m[8];
	struct buf	 b;

	buf_init(&b, m, sizeof(m));
	CHECK_INT(buf_put(&b, "abcde", 5), 0);
	CHECK_INT(buf_put(&b, "1234", 4), -1);
	if (!buf_is(&b, "abcde", 5, "b", __LINE__))
		return;
	CHECK_INT(buf_puts(&b, "123456789"), -1);
	if (!buf_is(&b, "abcde", 5, "b", __LINE__))
		return;
	CHECK_INT(buf_put(&b, "123", 3), 0);
	CHECK_INT(buf_put(&b, "x", 1), -1);
	if (!buf_is(&b, "abcde123", 8, "b", __LINE__))
		return;
	CHECK_INT(buf_put(&b, "", 0), 0);
}
UNIT(t_buf_put_all_or_nothing, "buf put is all or nothing when full");

static void
t_buf_move_dst_room(void)
{
	char		 sm[16], dm[4];
	struct buf	 src, dst;

	buf_init(&src, sm, sizeof(sm));
	buf_init(&dst, dm, sizeof(dm));
	CHECK_INT(buf_put(&dst, "x", 1), 0);
	CHECK_INT(buf_put(&src, "abcdef", 6), 0);
	CHECK_INT(buf_move(&dst, &src, 6), 3);
	if (!buf_is(&dst, "xabc", 4, "dst", __LINE__) ||
	    !buf_is(&src, "def", 3, "src", __LINE__))
		return;
	CHECK_INT(buf_move(&dst, &src, 6), 0);
	if (!buf_is(&src, "def", 3, "src", __LINE__))
		return;
	buf_drop(&dst, 2);
	CHECK_INT(buf_move(&dst, &src, 100), 2);
	if (!buf_is(&dst, "bcde", 4, "dst", __LINE__) ||
	    !buf_is(&src, "f", 1, "src", __LINE__))
		return;
}
UNIT(t_buf_move_dst_room, "buf move limited by destination room");

static void
t_buf_move_src_len(void)
{
	char		 sm[16], dm[16];
	struct buf	 src, dst;

	buf_init(&src, sm, sizeof(sm));
	buf_init(&dst, dm, sizeof(dm));
	CHECK_INT(buf_put(&src, "abcdef", 6), 0);
	CHECK_INT(buf_move(&dst, &src, 2), 2);
	if (!buf_is(&dst, "ab", 2, "dst", __LINE__) ||
	    !buf_is(&src, "cdef", 4, "src", __LINE__))
		return;
	CHECK_INT(buf_move(&dst, &src, 100), 4);
	if (!buf_is(&dst, "abcdef", 6, "dst", __LINE__))
		return;
	CHECK_INT(src.len, 0);
	CHECK_INT(buf_move(&dst, &src, 100), 0);
	CHECK_INT(dst.len, 6);
}
UNIT(t_buf_move_src_len, "buf move limited by n and source length");
