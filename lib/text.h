/*
 * Text from outside (a client, a certificate, a host name) made safe
 * for a log line or a report: printable ASCII only.
 */
#ifndef TEXT_H
#define TEXT_H

enum text_space {
	TEXT_NOSPACE,		/* a name: a space is not printable here */
	TEXT_SPACE		/* a line of text: spaces stay */
};

int	text_safe(int c, enum text_space space);

#endif
