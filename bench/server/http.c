/*
 * HTTP/1.1 framing (see http.h).
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Whether the header line [p, end) is `name: value...` (name given with
 * its colon, any case); if so *value points past the colon and blanks. */
static bool header_is(const char *p, const char *end, const char *name,
		      const char **value)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) < n || strncasecmp(p, name, n) != 0)
		return false;
	p += n;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*value = p;
	return true;
}

long http_message_length(const char *buf, size_t len, size_t cap,
			 bool *close_after)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);

	if (!end)
		return len >= cap ? -1 : 0;
	size_t head = (size_t)(end - buf) + 4, body = 0;
	*close_after = false;
	/* Header lines start after the first line's CRLF; each ends at a
	 * CR, and the search stops at the blank line's CR at worst. */
	const char *p = memchr(buf, '\n', head);
	for (p = p ? p + 1 : end; p < end;) {
		const char *eol = memchr(p, '\r', (size_t)(end - p) + 1);
		const char *v;
		if (header_is(p, eol, "content-length:", &v)) {
			char *stop;
			unsigned long n = strtoul(v, &stop, 10);
			if (stop == v || n >= cap)
				return -1;
			body = n;
		} else if (header_is(p, eol, "connection:", &v)) {
			*close_after = strncasecmp(v, "close", 5) == 0;
		}
		p = eol + 2;
	}
	if (head + body > cap)
		return -1;
	return head + body <= len ? (long)(head + body) : 0;
}

int http_status(const char *buf, size_t len)
{
	/* "HTTP/1.1 200" is 12 bytes. */
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
		return -1;
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		code = code * 10 + (buf[i] - '0');
	}
	return code;
}
