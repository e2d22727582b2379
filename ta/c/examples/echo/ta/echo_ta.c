/*
 * echo_ta.c - the C example TA: the demo of tzbridge's built-in echo TA
 * (ta/echo), written as a plain POSIX program with libtzposix underneath.
 *
 *   FIFO  what one writer session of /in sends comes back on /out
 *   UNIX  /echo.sock (stream), per connection
 *   TCP   127.0.0.1:ECHO_TCP_PORT (7000), per connection
 *   UDP   127.0.0.1:ECHO_UDP_PORT (7001), per datagram, to its sender
 *
 * Paths are inside the TA's directory (/tz/<name>/ for CAs). It is a
 * single-threaded poll loop; output that cannot be delivered yet stays
 * buffered and its source is not read meanwhile, so the kernel pushes back
 * on the client.
 *
 * The FIFO echoes per writer session, as the built-in echo does (README,
 * "The demo FIFO"): a session of /in lasts from the first writer's open
 * until no writer has it open (read returns 0); its bytes go to the
 * readers of /out present, and /out is closed once the session is echoed,
 * so those readers see end of file. While the session lasts its echo waits
 * for a reader; once it has ended, for GRACE_POLLS idle polls of RETRY_MS
 * (2 s when nothing else wakes the TA), and not at all once the next
 * session sends something.
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
#include <sys/un.h>
#include <unistd.h>

#include <echo_ta.h>

#define BUF_SIZE (16 * 1024)
#define MAX_CONNS 14
#define RETRY_MS 50
#define GRACE_POLLS 40
/* Without a reader and with other descriptors busy, poll may never time
 * out: /out is then tried every RETRY_WAKES wake-ups. */
#define RETRY_WAKES 16
#define UDP_MAX 65536

struct buffer {
	char b[BUF_SIZE];
	size_t off, len; /* pending output: b[off..len) */
};

struct conn {
	int fd; /* -1: free */
	int eof;
	struct buffer out;
};

/* One type for every address this TA uses: passing &a.sa keeps the
 * compiler's aliasing rules (-Wstrict-aliasing=2 in OP-TEE's build). */
union addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_un sun;
};

enum fifo_state {
	F_IDLE,   /* no session */
	F_ACTIVE, /* a writer has /in open */
	F_ENDED   /* the writers left; what is buffered is the rest of the echo */
};

static struct buffer fifo_data;
static enum fifo_state fifo_state = F_IDLE;
static int fifo_no_reader; /* an open of /out for this session found none */
static int fifo_grace;     /* idle polls left for an ended session without reader */
static int fifo_try;       /* something changed: try /out without waiting */
static int fifo_in = -1, fifo_out = -1;

static int unix_l = -1, tcp_l = -1, udp = -1;
static struct conn conns[MAX_CONNS];

static char udp_buf[UDP_MAX];
static size_t udp_len;
static int udp_wait; /* udp_buf holds a datagram the socket has no room for */
static union addr udp_to;
static socklen_t udp_tolen;

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

static void zero(void *p, size_t n)
{
	char *c = p;

	while (n-- > 0)
		*c++ = 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int listen_on(int domain, const union addr *a, socklen_t len)
{
	int one = 1;
	int fd = socket(domain, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if ((domain == AF_UNIX || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0) &&
	    bind(fd, &a->sa, len) == 0 && listen(fd, 64) == 0 && set_nonblock(fd) == 0)
		return fd;
	close(fd);
	return -1;
}

static void inet_loopback(union addr *a, int port)
{
	zero(a, sizeof(*a));
	a->sin.sin_family = AF_INET;
	a->sin.sin_port = htons(port);
	a->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static int setup(void)
{
	static const char path[] = ECHO_UNIX_PATH;
	union addr a;
	int one = 1;
	size_t i;

	if (mkfifo("/in", 0666) != 0 && errno != EEXIST)
		return -1;
	if (mkfifo("/out", 0666) != 0 && errno != EEXIST)
		return -1;
	fifo_in = open("/in", O_RDONLY | O_NONBLOCK);
	if (fifo_in < 0)
		return -1;

	/* A socket node left by an earlier run of this TA (on_restart: keep
	 * keeps the node) would make bind fail with EADDRINUSE. */
	if (unlink(path) != 0 && errno != ENOENT)
		return -1;
	zero(&a, sizeof(a));
	a.sun.sun_family = AF_UNIX;
	for (i = 0; i < sizeof(path); i++)
		a.sun.sun_path[i] = path[i];
	unix_l = listen_on(AF_UNIX, &a, (socklen_t)sizeof(a.sun));
	if (unix_l < 0)
		return -1;
	inet_loopback(&a, ECHO_TCP_PORT);
	tcp_l = listen_on(AF_INET, &a, (socklen_t)sizeof(a.sin));
	if (tcp_l < 0)
		return -1;

	udp = socket(AF_INET, SOCK_DGRAM, 0);
	if (udp < 0)
		return -1;
	inet_loopback(&a, ECHO_UDP_PORT);
	if (setsockopt(udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(udp, &a.sa, (socklen_t)sizeof(a.sin)) != 0 || set_nonblock(udp) != 0)
		return -1;

	for (i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	return 0;
}

/* reopen_in replaces the reader of /in after a session ended: a fresh
 * nonblocking reader reports POLLHUP only once a writer has come and gone
 * since, so poll is quiet until the next session ends. It is opened before
 * the old one is closed, so that /in always has a reader. */
static void reopen_in(void)
{
	int fd = open("/in", O_RDONLY | O_NONBLOCK);

	close(fifo_in); /* the old one would report POLLHUP forever */
	fifo_in = fd;   /* -1: retried after RETRY_MS */
}

static void end_session(void)
{
	fifo_data.off = fifo_data.len = 0;
	fifo_state = F_IDLE;
	fifo_no_reader = 0;
}

static void read_fifo(void)
{
	ssize_t n;

	if (fifo_state == F_ENDED)
		end_session(); /* the next session has begun; no reader came for this one */
	n = read(fifo_in, fifo_data.b, BUF_SIZE);
	if (n > 0) {
		fifo_data.off = 0;
		fifo_data.len = (size_t)n;
		fifo_state = F_ACTIVE;
		fifo_try = 1;
	} else if (n == 0) {
		/* Every writer has closed /in: the session ends here (an
		 * empty one, if nothing came: its readers see end of file). */
		fifo_state = F_ENDED;
		fifo_grace = GRACE_POLLS;
		fifo_try = 1;
		reopen_in();
	}
}

static void close_out(void)
{
	close(fifo_out);
	fifo_out = -1;
}

/* flush_fifo writes the session's bytes to /out, opening it when it has a
 * reader, and closes /out once an ended session is echoed whole. */
static void flush_fifo(int timed_out, unsigned wakes)
{
	ssize_t n;

	if (fifo_state == F_IDLE || (fifo_state == F_ACTIVE && !pending(&fifo_data)))
		return;
	if (fifo_out < 0) {
		if (!fifo_try && !timed_out && wakes % RETRY_WAKES != 0)
			return;
		fifo_try = 0;
		fifo_out = open("/out", O_WRONLY | O_NONBLOCK);
		if (fifo_out < 0) {
			/* ENXIO: no reader. */
			fifo_no_reader = 1;
			if (fifo_state == F_ENDED && timed_out && --fifo_grace <= 0)
				end_session();
			return;
		}
	}
	if (pending(&fifo_data)) {
		n = write(fifo_out, fifo_data.b + fifo_data.off, fifo_data.len - fifo_data.off);
		if (n > 0)
			consumed(&fifo_data, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			close_out(); /* EPIPE: the reader left; the rest waits for the next */
			return;
		}
	}
	if (fifo_state == F_ENDED && !pending(&fifo_data)) {
		close_out(); /* the session is echoed: its readers see end of file */
		end_session();
	}
}

static void accept_one(int l)
{
	int fd, i;

	fd = accept(l, NULL, NULL);
	if (fd < 0)
		return; /* EAGAIN, or the client went away first */
	for (i = 0; i < MAX_CONNS && conns[i].fd >= 0; i++)
		;
	if (i == MAX_CONNS || set_nonblock(fd) != 0) {
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

/* serve_udp echoes one datagram to its sender, or sends the one that
 * waited for room. */
static void serve_udp(void)
{
	ssize_t n;

	if (!udp_wait) {
		udp_tolen = (socklen_t)sizeof(udp_to);
		n = recvfrom(udp, udp_buf, sizeof(udp_buf), 0, &udp_to.sa, &udp_tolen);
		if (n < 0 || udp_tolen == 0)
			return; /* EAGAIN, an error queued for an earlier send, or no sender */
		udp_len = (size_t)n;
	}
	n = sendto(udp, udp_buf, udp_len, 0, &udp_to.sa, udp_tolen);
	/* Sent, or refused for good: either way this datagram is done. */
	udp_wait = n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOBUFS);
}

int main(void)
{
	struct pollfd fds[5 + MAX_CONNS];
	int who[5 + MAX_CONNS]; /* -1 FIFO in, -2 FIFO out, -3 listener, -4 UDP, else conn */
	int nfds, i, timeout, nconns, ready;
	unsigned wakes = 0;

	if (setup() != 0)
		return 1;
	for (;;) {
		nfds = 0;
		nconns = 0;
		/* /in is read when there is room, and while an ended session
		 * waits for a reader only to see the next session begin. */
		if (fifo_in >= 0 &&
		    (fifo_state == F_ENDED ? fifo_no_reader : !pending(&fifo_data))) {
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
		fds[nfds].fd = udp;
		fds[nfds].events = udp_wait ? POLLOUT : POLLIN;
		who[nfds++] = -4;
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
			fds[nfds].fd = unix_l;
			fds[nfds].events = POLLIN;
			who[nfds++] = -3;
			fds[nfds].fd = tcp_l;
			fds[nfds].events = POLLIN;
			who[nfds++] = -3;
		}
		timeout = -1;
		if (fifo_in < 0 || (fifo_out < 0 && (fifo_state == F_ENDED || pending(&fifo_data))))
			timeout = RETRY_MS;

		ready = poll(fds, (nfds_t)nfds, timeout);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		wakes++;
		for (i = 0; i < nfds; i++) {
			short rev = fds[i].revents;

			if (rev == 0)
				continue;
			switch (who[i]) {
			case -1:
				read_fifo();
				break;
			case -2:
				break; /* flush_fifo below writes, or finds EPIPE */
			case -3:
				accept_one(fds[i].fd);
				break;
			case -4:
				serve_udp();
				break;
			default:
				if (conns[who[i]].fd >= 0)
					serve_conn(&conns[who[i]], rev);
			}
		}
		if (fifo_in < 0 && ready == 0) {
			fifo_in = open("/in", O_RDONLY | O_NONBLOCK);
		}
		flush_fifo(ready == 0, wakes);
	}
}
