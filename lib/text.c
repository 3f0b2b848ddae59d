/*
 * The one sanitizer for text from outside: whatever is not printable
 * ASCII becomes '?', so that a log line stays one line and a report
 * cannot be cut short or forged.
 */
#include "text.h"

int
text_safe(int c, enum text_space space)
{
	unsigned char	 u = (unsigned char)c;

	if (u == ' ')
		return space == TEXT_SPACE ? c : '?';
	return u > ' ' && u < 0x7f ? c : '?';
}
