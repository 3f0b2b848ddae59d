/*
 * Unit tests: the one sanitizer (lib/text.c).
 */
#include "unit.h"

/* the one sanitizer: printable ASCII stays, spaces only in lines */
static void
t_text_safe(void)
{
	CHECK_INT(text_safe('a', TEXT_NOSPACE), 'a');
	CHECK_INT(text_safe('~', TEXT_NOSPACE), '~');
	CHECK_INT(text_safe(' ', TEXT_NOSPACE), '?');
	CHECK_INT(text_safe(' ', TEXT_SPACE), ' ');
	CHECK_INT(text_safe('\n', TEXT_SPACE), '?');
	CHECK_INT(text_safe('\0', TEXT_SPACE), '?');
	CHECK_INT(text_safe(0x7f, TEXT_SPACE), '?');
	CHECK_INT(text_safe((char)0xe9, TEXT_SPACE), '?');
}
UNIT(t_text_safe, "text_safe: printable ASCII only");
