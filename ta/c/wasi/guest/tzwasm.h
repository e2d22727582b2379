/*
 * tzwasm.h - for C programs compiled to wasm32-wasi that run as tzbridge
 * TAs: the tzposix import module (docs/wasm.md, "The tzposix import
 * module"), which gives them what WASI preview 1 lacks: making sockets,
 * bind, listen, datagrams with addresses, mkfifo. wasi-libc's own
 * accept, recv, send, shutdown, read, write and poll work on the
 * descriptors these return.
 *
 * Every function returns a WASI errno (0: success). Numbers and flags are
 * the tzrpc protocol's; addresses are its encoding (docs/protocol.md,
 * section 4), built here by tzwasm_inet and tzwasm_unix.
 */
#ifndef TZWASM_H
#define TZWASM_H

#include <stdint.h>
#include <string.h>

#define TZWASM_IMPORT(name) __attribute__((import_module("tzposix"), import_name(name)))

#define TZWASM_AF_UNIX 1
#define TZWASM_AF_INET 2
#define TZWASM_AF_INET6 10
#define TZWASM_SOCK_STREAM 1
#define TZWASM_SOCK_DGRAM 2
#define TZWASM_SOCK_NONBLOCK 0x800
#define TZWASM_MSG_DONTWAIT 0x40
#define TZWASM_SO_REUSEADDR 1
#define TZWASM_SO_ERROR 6
#define TZWASM_ROOT_FD 3
/* The longest encoded address (a UNIX path of 107 bytes): what
 * recvfrom, getsockname and getpeername need as a buffer. */
#define TZWASM_ADDR_BUF 113

int32_t tzwasm_socket(int32_t domain, int32_t type, int32_t *fd) TZWASM_IMPORT("socket");
int32_t tzwasm_bind(int32_t fd, const void *addr, int32_t len) TZWASM_IMPORT("bind");
int32_t tzwasm_connect(int32_t fd, const void *addr, int32_t len) TZWASM_IMPORT("connect");
int32_t tzwasm_listen(int32_t fd, int32_t backlog) TZWASM_IMPORT("listen");
int32_t tzwasm_sendto(int32_t fd, const void *buf, int32_t len, int32_t flags, const void *addr,
		      int32_t addr_len, int32_t *nsent) TZWASM_IMPORT("sendto");
int32_t tzwasm_recvfrom(int32_t fd, void *buf, int32_t len, int32_t flags, void *addr_buf,
			int32_t addr_buf_len, int32_t *addr_len, int32_t *nrecv) TZWASM_IMPORT("recvfrom");
int32_t tzwasm_getsockname(int32_t fd, void *buf, int32_t len, int32_t *len_out) TZWASM_IMPORT("getsockname");
int32_t tzwasm_getpeername(int32_t fd, void *buf, int32_t len, int32_t *len_out) TZWASM_IMPORT("getpeername");
int32_t tzwasm_setsockopt(int32_t fd, int32_t opt, int32_t value) TZWASM_IMPORT("setsockopt");
int32_t tzwasm_getsockopt(int32_t fd, int32_t opt, int32_t *value) TZWASM_IMPORT("getsockopt");
int32_t tzwasm_mkfifo(int32_t dirfd, const char *path, int32_t path_len, int32_t mode) TZWASM_IMPORT("mkfifo");

/* tzwasm_inet encodes an IPv4 address (a, b, c, d: its bytes) and port
 * into b (8 bytes); returns the length. */
static inline int32_t tzwasm_inet(uint8_t *b, uint8_t a0, uint8_t a1, uint8_t a2, uint8_t a3, uint16_t port)
{
	b[0] = 1, b[1] = 0; /* INET */
	b[2] = (uint8_t)port, b[3] = (uint8_t)(port >> 8);
	b[4] = a0, b[5] = a1, b[6] = a2, b[7] = a3;
	return 8;
}

/* tzwasm_unix encodes a UNIX socket path (at most 107 bytes) into b (6 +
 * its length); returns the length, or -1 if the path is too long. */
static inline int32_t tzwasm_unix(uint8_t *b, const char *path)
{
	size_t n = strlen(path);

	if (n > 107)
		return -1;
	b[0] = 3, b[1] = 0, b[2] = 0, b[3] = 0; /* UNIX, port 0 */
	b[4] = (uint8_t)n, b[5] = (uint8_t)(n >> 8);
	memcpy(b + 6, path, n);
	return (int32_t)(6 + n);
}

#endif /* TZWASM_H */
