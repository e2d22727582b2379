/*
 * echo.c - the demo's echo as a C program compiled to WebAssembly
 * (wasm32-wasi), to become a TA through ta/wasm2ta:
 *
 *   FIFO  bytes written to /in come back on /out
 *   UNIX  /echo.sock, stream, per connection
 *   TCP   127.0.0.1:ECHO_TCP_PORT (7000), per connection
 *   UDP   127.0.0.1:ECHO_UDP_PORT (7001), each datagram back to its sender
 *
 *   clang --target=wasm32-wasi -O2 -I ta/c/wasi/guest -o echo.wasm echo.c
 *
 * Only libc calls (wasi-libc: open, read, write, accept4, recv, send,
 * poll) plus, for what WASI preview 1 cannot do (making and binding
 * sockets, datagrams with addresses, mkfifo), the tzposix import module
 * (tzwasm.h). A single-threaded poll loop like ta/c/examples/echo: output
 * that cannot be delivered yet stays buffered and its source is not read
 * meanwhile, so the kernel pushes back on the client.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tzwasm.h>

#ifndef ECHO_TCP_PORT
#define ECHO_TCP_PORT 7000
#endif
#ifndef ECHO_UDP_PORT
#define ECHO_UDP_PORT 7001
#endif

#define BUF_SIZE (16 * 1024)
#define MAX_CONNS 14
#define RETRY_MS 50

struct buffer {
	char b[BUF_SIZE];
	size_t off, len; /* pending output: b[off..len) */
};

struct conn {
	int fd; /* -1: free */
	int eof;
	struct buffer out;
};

static struct buffer fifo_data;
static struct conn conns[MAX_CONNS];
static char dgram[BUF_SIZE];
static int fifo_in = -1, fifo_hold = -1, fifo_out = -1, tcp = -1, unx = -1, udp = -1;

static int pending(const struct buffer *q)
{
	return q->len > q->off;
}

static void consumed(struct buffer *q, size_t n)
{
	q->off += n;
	if (q->off >= q->len)
		q->off = q->len = 0;
}

/* listener makes a nonblocking socket bound to addr; stream sockets also
 * listen. Returns the descriptor or -1. */
static int listener(int domain, int type, const uint8_t *addr, int32_t len)
{
	int32_t fd;

	if (tzwasm_socket(domain, type | TZWASM_SOCK_NONBLOCK, &fd) != 0)
		return -1;
	if (domain != TZWASM_AF_UNIX && tzwasm_setsockopt(fd, TZWASM_SO_REUSEADDR, 1) != 0)
		return -1;
	if (tzwasm_bind(fd, addr, len) != 0)
		return -1;
	if (type == TZWASM_SOCK_STREAM && tzwasm_listen(fd, 64) != 0)
		return -1;
	return fd;
}

static int setup(void)
{
	uint8_t a[TZWASM_ADDR_BUF];
	int i, e;

	for (i = 0; i < 2; i++) {
		const char *name = i ? "out" : "in";
		e = tzwasm_mkfifo(TZWASM_ROOT_FD, name, (int32_t)strlen(name), 0666);
		if (e != 0 && e != 20 /* WASI EEXIST */) {
			fprintf(stderr, "mkfifo %s: WASI errno %d\n", name, e);
			return -1;
		}
	}
	fifo_in = open("/in", O_RDONLY | O_NONBLOCK);
	/* Our own writer keeps /in from reporting POLLHUP between clients. */
	fifo_hold = open("/in", O_WRONLY | O_NONBLOCK);
	if (fifo_in < 0 || fifo_hold < 0) {
		perror("open /in");
		return -1;
	}
	tcp = listener(TZWASM_AF_INET, TZWASM_SOCK_STREAM, a, tzwasm_inet(a, 127, 0, 0, 1, ECHO_TCP_PORT));
	udp = listener(TZWASM_AF_INET, TZWASM_SOCK_DGRAM, a, tzwasm_inet(a, 127, 0, 0, 1, ECHO_UDP_PORT));
	unlink("/echo.sock"); /* a node left by an earlier run */
	unx = listener(TZWASM_AF_UNIX, TZWASM_SOCK_STREAM, a, tzwasm_unix(a, "/echo.sock"));
	if (tcp < 0 || udp < 0 || unx < 0) {
		fprintf(stderr, "listeners: tcp %d udp %d unix %d\n", tcp, udp, unx);
		return -1;
	}
	for (i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	printf("echo: FIFO /in -> /out, UNIX /echo.sock, TCP %d, UDP %d\n", ECHO_TCP_PORT, ECHO_UDP_PORT);
	fflush(stdout);
	return 0;
}

/* flush_fifo writes what /in gave to /out, opening /out when it has a
 * reader; without one the bytes wait. */
static void flush_fifo(void)
{
	ssize_t n;

	if (!pending(&fifo_data))
		return;
	if (fifo_out < 0) {
		fifo_out = open("/out", O_WRONLY | O_NONBLOCK);
		if (fifo_out < 0)
			return; /* ENXIO: no reader yet; retried after RETRY_MS */
	}
	n = write(fifo_out, fifo_data.b + fifo_data.off, fifo_data.len - fifo_data.off);
	if (n > 0)
		consumed(&fifo_data, (size_t)n);
	else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		close(fifo_out); /* EPIPE: the reader left; keep the rest */
		fifo_out = -1;
	}
}

static void accept_one(int l)
{
	int fd, i;

	fd = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	if (fd < 0)
		return; /* EAGAIN, or the client went away first */
	for (i = 0; i < MAX_CONNS && conns[i].fd >= 0; i++)
		;
	if (i == MAX_CONNS) {
		close(fd);
		return;
	}
	conns[i].fd = fd;
	conns[i].eof = 0;
	conns[i].out.off = conns[i].out.len = 0;
}

static void echo_datagrams(void)
{
	uint8_t from[TZWASM_ADDR_BUF];
	int32_t n, flen, sent;

	/* Drain what is there: each datagram goes back to its sender. */
	while (tzwasm_recvfrom(udp, dgram, sizeof(dgram), TZWASM_MSG_DONTWAIT, from, sizeof(from), &flen, &n) == 0)
		tzwasm_sendto(udp, dgram, n, 0, from, flen, &sent);
}

static void drop(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
}

static void serve_conn(struct conn *c, short rev)
{
	ssize_t n;

	if (rev & POLLNVAL) {
		c->fd = -1;
		return;
	}
	if (!c->eof && !pending(&c->out) && (rev & (POLLIN | POLLHUP | POLLERR))) {
		n = recv(c->fd, c->out.b, BUF_SIZE, 0);
		if (n == 0)
			c->eof = 1;
		else if (n > 0)
			c->out.len = (size_t)n;
		else if (errno != EAGAIN && errno != EINTR) {
			drop(c);
			return;
		}
	}
	if (pending(&c->out)) {
		n = send(c->fd, c->out.b + c->out.off, c->out.len - c->out.off, 0);
		if (n > 0)
			consumed(&c->out, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			drop(c);
			return;
		}
	}
	if (c->eof && !pending(&c->out))
		drop(c);
}

enum { W_FIFO_IN = -1, W_FIFO_OUT = -2, W_TCP = -3, W_UNIX = -4, W_UDP = -5 };

int main(void)
{
	struct pollfd fds[5 + MAX_CONNS];
	int who[5 + MAX_CONNS];
	int nfds, i, timeout, nconns;
	ssize_t n;

	if (setup() != 0)
		return 1;
	for (;;) {
		nfds = 0;
		nconns = 0;
		if (!pending(&fifo_data)) {
			fds[nfds].fd = fifo_in;
			fds[nfds].events = POLLIN;
			who[nfds++] = W_FIFO_IN;
		}
		if (fifo_out >= 0 && pending(&fifo_data)) {
			fds[nfds].fd = fifo_out;
			fds[nfds].events = POLLOUT;
			who[nfds++] = W_FIFO_OUT;
		}
		for (i = 0; i < MAX_CONNS; i++) {
			struct conn *c = &conns[i];

			if (c->fd < 0)
				continue;
			nconns++;
			fds[nfds].fd = c->fd;
			fds[nfds].events = (short)((!c->eof && !pending(&c->out) ? POLLIN : 0) |
						   (pending(&c->out) ? POLLOUT : 0));
			who[nfds++] = i;
		}
		if (nconns < MAX_CONNS) {
			fds[nfds].fd = tcp;
			fds[nfds].events = POLLIN;
			who[nfds++] = W_TCP;
			fds[nfds].fd = unx;
			fds[nfds].events = POLLIN;
			who[nfds++] = W_UNIX;
		}
		fds[nfds].fd = udp;
		fds[nfds].events = POLLIN;
		who[nfds++] = W_UDP;
		timeout = pending(&fifo_data) && fifo_out < 0 ? RETRY_MS : -1;

		if (poll(fds, (nfds_t)nfds, timeout) < 0) {
			if (errno == EINTR)
				continue;
			perror("poll");
			return 1;
		}
		for (i = 0; i < nfds; i++) {
			short rev = fds[i].revents;

			if (rev == 0)
				continue;
			switch (who[i]) {
			case W_FIFO_IN:
				n = read(fifo_in, fifo_data.b, BUF_SIZE);
				if (n > 0) {
					fifo_data.off = 0;
					fifo_data.len = (size_t)n;
				}
				break;
			case W_FIFO_OUT:
				break; /* flush_fifo below writes, or finds EPIPE */
			case W_TCP:
				accept_one(tcp);
				break;
			case W_UNIX:
				accept_one(unx);
				break;
			case W_UDP:
				echo_datagrams();
				break;
			default:
				if (conns[who[i]].fd >= 0)
					serve_conn(&conns[who[i]], rev);
			}
		}
		flush_fifo();
	}
}
