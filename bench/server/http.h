/*
 * Just enough HTTP/1.1 framing for the server benchmark's two programs:
 * where the first message in a buffer ends (its head and a Content-Length
 * body), for the server's requests and the generator's replies. No
 * chunked bodies: neither program sends them.
 */
#ifndef WEFT_BENCH_SERVER_HTTP_H
#define WEFT_BENCH_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the first complete message in buf[0, len): > 0 when its
 * head and body are all there, 0 when more bytes are needed, -1 when it
 * is malformed or longer than cap (the caller's buffer, which len never
 * exceeds). *close_after: whether its head says "Connection: close". */
long http_message_length(const char *buf, size_t len, size_t cap,
			 bool *close_after);

/* The status code of the reply at buf[0, len) ("HTTP/1.x NNN ..."), or -1
 * if it does not start with a status line. */
int http_status(const char *buf, size_t len);

#endif
