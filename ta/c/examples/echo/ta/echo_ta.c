/*
 * echo_ta.c - the C example TA: an echo server written as a plain POSIX
 * program, with libtzposix underneath.
 *
 *   FIFO  bytes written to /in come back on /out
 *   TCP   127.0.0.1:ECHO_TCP_PORT (7200), per connection
 *
 * Paths are inside the TA's directory (/tz/<name>/ for CAs). It is a
 * single-threaded poll loop; output that cannot be delivered yet stays
 * buffered and its source is not read meanwhile, so the kernel pushes back
 * on the client and nothing is dropped.
 *
 * Nothing here is specific to a TA except int main(void): the includes are
 * the usual ones (ta/c/include/compat maps them to tzposix/posix.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <echo_ta.h>

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
static int fifo_in = -1, fifo_hold = -1, fifo_out = -1, listener = -1;

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

static int setup(void)
{
	struct sockaddr_in sin;
	int one = 1;
	size_t i;

	if (mkfifo("/in", 0666) != 0 && errno != EEXIST)
		return -1;
	if (mkfifo("/out", 0666) != 0 && errno != EEXIST)
		return -1;
	fifo_in = open("/in", O_RDONLY | O_NONBLOCK);
	if (fifo_in < 0)
		return -1;
	/* Our own writer keeps /in from reporting POLLHUP between clients. */
	fifo_hold = open("/in", O_WRONLY | O_NONBLOCK);
	if (fifo_hold < 0)
		return -1;

	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0)
		return -1;
	if (setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		return -1;
	for (i = 0; i < sizeof(sin); i++)
		((char *)&sin)[i] = 0;
	sin.sin_family = AF_INET;
	sin.sin_port = htons(ECHO_TCP_PORT);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listener, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		return -1;
	if (listen(listener, 64) != 0)
		return -1;
	if (fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	for (i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
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

static void accept_one(void)
{
	int fd, i;

	fd = accept(listener, NULL, NULL);
	if (fd < 0)
		return; /* EAGAIN, or the client went away first */
	for (i = 0; i < MAX_CONNS && conns[i].fd >= 0; i++)
		;
	if (i == MAX_CONNS || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
		close(fd);
		return;
	}
	conns[i].fd = fd;
	conns[i].eof = 0;
	conns[i].out.off = conns[i].out.len = 0;
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
		/* Write at once: the socket usually has room, and this saves a
		 * poll per echo. A short count waits for POLLOUT. */
		n = send(c->fd, c->out.b + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
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

int main(void)
{
	struct pollfd fds[3 + MAX_CONNS];
	int who[3 + MAX_CONNS]; /* -1 FIFO in, -2 FIFO out, -3 listener, else conn */
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
			who[nfds++] = -1;
		}
		if (fifo_out >= 0 && pending(&fifo_data)) {
			/* Polled only with something to write. A reader that
			 * left shows as EPIPE on the next write; closing /out
			 * on its POLLERR instead could cut off a new reader
			 * that has just opened it. */
			fds[nfds].fd = fifo_out;
			fds[nfds].events = POLLOUT;
			who[nfds++] = -2;
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
			fds[nfds].fd = listener;
			fds[nfds].events = POLLIN;
			who[nfds++] = -3;
		}
		timeout = pending(&fifo_data) && fifo_out < 0 ? RETRY_MS : -1;

		if (poll(fds, (nfds_t)nfds, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (i = 0; i < nfds; i++) {
			short rev = fds[i].revents;

			if (rev == 0)
				continue;
			switch (who[i]) {
			case -1:
				n = read(fifo_in, fifo_data.b, BUF_SIZE);
				if (n > 0) {
					fifo_data.off = 0;
					fifo_data.len = (size_t)n;
				}
				break;
			case -2:
				break; /* flush_fifo below writes, or finds EPIPE */
			case -3:
				accept_one();
				break;
			default:
				if (conns[who[i]].fd >= 0)
					serve_conn(&conns[who[i]], rev);
			}
		}
		flush_fifo();
	}
}
