/*
 * wasi.c - WASI preview 1 and the tzposix import module over libtzposix
 * (see wasi.h). Mirrors ta/wasm (wasi.go, poll.go, tzposixmod.go): where
 * this file and the Go host differ, the Go host is the specification.
 */
#define TZPOSIX_NO_RENAME 1
#include <tzposix/codec.h>
#include <tzposix/posix.h>

#include <tee_internal_api.h>

#include "wasi.h"

#define RIGHT_FD_READ (1u << 1)
#define RIGHT_FD_WRITE (1u << 6)
#define ALL_RIGHTS ((1ull << 30) - 1)

#define FDFLAG_APPEND 0x1
#define FDFLAG_DSYNC 0x2
#define FDFLAG_NONBLOCK 0x4
#define FDFLAG_RSYNC 0x8
#define FDFLAG_SYNC 0x10
#define FDFLAGS_ALL (FDFLAG_APPEND | FDFLAG_DSYNC | FDFLAG_NONBLOCK | FDFLAG_RSYNC | FDFLAG_SYNC)

#define OFLAG_CREAT 0x1
#define OFLAG_DIRECTORY 0x2
#define OFLAG_EXCL 0x4
#define OFLAG_TRUNC 0x8

#define FILETYPE_UNKNOWN 0
#define FILETYPE_CHARACTER_DEVICE 2
#define FILETYPE_DIRECTORY 3
#define FILETYPE_SOCKET_DGRAM 5
#define FILETYPE_SOCKET_STREAM 6

#define LISTEN_BACKLOG 1024

/* The protocol's socket options (docs/protocol.md section 5). */
#define TZ_SO_REUSEADDR 1
#define TZ_SO_KEEPALIVE 2
#define TZ_SO_RCVBUF 3
#define TZ_SO_SNDBUF 4
#define TZ_TCP_NODELAY 5
#define TZ_SO_ERROR 6
#define TZ_SO_TYPE 7
#define TZ_SO_BROADCAST 8
#define TZ_SO_REUSEPORT 9

static int host_errno(void)
{
	return *tzposix_errno_location();
}

static int fail(void)
{
	return tzwasi_errno(host_errno());
}

uint16_t tzwasi_errno(int e)
{
	switch (e) {
	case 0: return 0;
	case E2BIG: return 1;
	case EACCES: return 2;
	case EADDRINUSE: return 3;
	case EADDRNOTAVAIL: return 4;
	case EAFNOSUPPORT: return 5;
	case EAGAIN: return 6;
	case EALREADY: return 7;
	case EBADF: return 8;
	case EBUSY: return 10;
	case ECANCELED: return 11;
	case ECHILD: return 12;
	case ECONNABORTED: return 13;
	case ECONNREFUSED: return 14;
	case ECONNRESET: return 15;
	case EDEADLK: return 16;
	case EDESTADDRREQ: return 17;
	case EDOM: return 18;
	case EDQUOT: return 19;
	case EEXIST: return 20;
	case EFAULT: return 21;
	case EFBIG: return 22;
	case EHOSTUNREACH: case EHOSTDOWN: return 23;
	case EILSEQ: return 25;
	case EINPROGRESS: return 26;
	case EINTR: return 27;
	case EINVAL: return 28;
	case EIO: return 29;
	case EISCONN: return 30;
	case EISDIR: return 31;
	case ELOOP: return 32;
	case EMFILE: return 33;
	case EMLINK: return 34;
	case EMSGSIZE: return 35;
	case ENAMETOOLONG: return 37;
	case ENETDOWN: return 38;
	case ENETRESET: return 39;
	case ENETUNREACH: return 40;
	case ENFILE: return 41;
	case ENOBUFS: return 42;
	case ENODEV: return 43;
	case ENOENT: return 44;
	case ENOEXEC: return 45;
	case ENOLCK: return 46;
	case ENOMEM: return 48;
	case ENOMSG: return 49;
	case ENOPROTOOPT: return 50;
	case ENOSPC: return 51;
	case ENOSYS: return 52;
	case ENOTCONN: return 53;
	case ENOTDIR: return 54;
	case ENOTEMPTY: return 55;
	case ENOTSOCK: return 57;
	case EOPNOTSUPP: return 58;
	case ENOTTY: return 59;
	case ENXIO: return 60;
	case EOVERFLOW: return 61;
	case EPERM: return 63;
	case EPIPE: return 64;
	case EPROTO: return 65;
	case EPROTONOSUPPORT: return 66;
	case EPROTOTYPE: return 67;
	case ERANGE: return 68;
	case EROFS: return 69;
	case ESPIPE: return 70;
	case ESRCH: return 71;
	case ETIMEDOUT: return 73;
	case ETXTBSY: return 74;
	case EXDEV: return 75;
	default: return TZWASI_EIO;
	}
}

/* ---- Guest memory: every access checked ---------------------------- */

static uint8_t *span(const struct tzwasi *w, uint32_t ptr, uint32_t len)
{
	if ((uint64_t)ptr + len > w->mem_size)
		return 0;
	return w->mem + ptr;
}

/* put writes v as n little-endian bytes at ptr, as the guest reads them;
 * 0 where [ptr, ptr+n) is outside its memory. */
static int put(struct tzwasi *w, uint32_t ptr, uint64_t v, uint32_t n)
{
	uint8_t *b = span(w, ptr, n);
	uint32_t i;

	if (!b)
		return 0;
	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return 1;
}

static int put16(struct tzwasi *w, uint32_t ptr, uint16_t v)
{
	return put(w, ptr, v, 2);
}

static int put32(struct tzwasi *w, uint32_t ptr, uint32_t v)
{
	return put(w, ptr, v, 4);
}

static int put64(struct tzwasi *w, uint32_t ptr, uint64_t v)
{
	return put(w, ptr, v, 8);
}

static void zero(uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = 0;
}

static void copy(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

static size_t slen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* ---- Descriptors ----------------------------------------------------- */

static struct tzwasi_fd *get(struct tzwasi *w, uint32_t fd)
{
	if (fd >= TZWASI_MAX_FDS || w->fds[fd].kind == TZWASI_FREE)
		return 0;
	return &w->fds[fd];
}

static int is_socket(const struct tzwasi_fd *e)
{
	return e->kind == TZWASI_STREAM || e->kind == TZWASI_DGRAM;
}

static void release(struct tzwasi_fd *e)
{
	if (e->path)
		TEE_Free(e->path);
	e->kind = TZWASI_FREE;
	e->preopen = 0;
	e->flags = 0;
	e->host = -1;
	e->path = 0;
}

/* publish gives e a guest descriptor and writes it to fd_out (checked by
 * the caller before the call that made e); the host descriptor is closed
 * if the table is full. */
static int publish(struct tzwasi *w, const struct tzwasi_fd *e, uint32_t fd_out)
{
	uint32_t i;

	for (i = 0; i < TZWASI_MAX_FDS; i++) {
		if (w->fds[i].kind == TZWASI_FREE) {
			w->fds[i] = *e;
			put32(w, fd_out, i);
			return 0;
		}
	}
	if (e->host >= 0)
		tzposix_close(e->host);
	if (e->path)
		TEE_Free(e->path);
	return TZWASI_EMFILE;
}

void tzwasi_init(struct tzwasi *w, const char *name)
{
	uint32_t i;

	w->name = name;
	for (i = 0; i < TZWASI_MAX_FDS; i++) {
		w->fds[i].path = 0;
		release(&w->fds[i]);
	}
	w->fds[0].kind = TZWASI_STDIN;
	w->fds[1].kind = TZWASI_STDOUT;
	w->fds[2].kind = TZWASI_STDERR;
	w->fds[3].kind = TZWASI_DIR;
	w->fds[3].preopen = 1;
	w->fds[3].path = TEE_Malloc(2, 0);
	if (w->fds[3].path) {
		w->fds[3].path[0] = '/';
		w->fds[3].path[1] = 0;
	} else {
		w->fds[3].kind = TZWASI_FREE;
	}
	w->line[0].len = w->line[1].len = 0;
	w->log_tokens_ms = (uint64_t)TZWASI_LOG_BURST * 1000;
	w->mono_base = tzwasi_platform_clock(1);
	w->log_last_ns = w->mono_base;
	w->log_dropped = 0;
}

static void log_line(struct tzwasi *w, int stream, const char *b, uint32_t n);

void tzwasi_close_all(struct tzwasi *w)
{
	uint32_t i;

	/* A last line without its newline is still output. */
	for (i = 0; i < 2; i++) {
		if (w->line[i].len)
			log_line(w, (int)i, w->line[i].b, w->line[i].len);
		w->line[i].len = 0;
	}
	for (i = 0; i < TZWASI_MAX_FDS; i++) {
		if (w->fds[i].kind != TZWASI_FREE && w->fds[i].host >= 0)
			tzposix_close(w->fds[i].host);
		release(&w->fds[i]);
	}
}

/* ---- Socket addresses ------------------------------------------------ */

/* to_host decodes a protocol sockaddr (exactly len bytes of guest memory)
 * into a struct sockaddr. */
static int to_host(struct tzwasi *w, uint32_t ptr, uint32_t len, struct sockaddr_storage *ss,
		   socklen_t *sl)
{
	struct tzp_sockaddr sa;
	const uint8_t *b = span(w, ptr, len);

	if (!b)
		return TZWASI_EFAULT;
	if (tzp_parse_sockaddr(b, len, &sa) != 0)
		return TZWASI_EINVAL;
	zero((uint8_t *)ss, sizeof(*ss));
	switch (sa.family) {
	case TZP_FAMILY_INET: {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = tzposix_htons(sa.port);
		copy((uint8_t *)&in->sin_addr, sa.addr, 4);
		*sl = sizeof(*in);
		break;
	}
	case TZP_FAMILY_INET6: {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = tzposix_htons(sa.port);
		copy(in6->sin6_addr.s6_addr, sa.addr, 16);
		in6->sin6_scope_id = sa.scope;
		*sl = sizeof(*in6);
		break;
	}
	default: {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		copy((uint8_t *)un->sun_path, (const uint8_t *)sa.path, sa.path_len);
		*sl = (socklen_t)(2 + sa.path_len);
		break;
	}
	}
	return 0;
}

/* from_host encodes a struct sockaddr as the protocol's; 0 bytes for an
 * address of no family (a stream's recvfrom). */
static size_t from_host(const struct sockaddr_storage *ss, socklen_t sl, uint8_t *out)
{
	struct tzp_sockaddr sa;

	zero((uint8_t *)&sa, sizeof(sa));
	if (sl < 2)
		return 0;
	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		sa.family = TZP_FAMILY_INET;
		sa.port = tzposix_htons(in->sin_port);
		copy(sa.addr, (const uint8_t *)&in->sin_addr, 4);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		sa.family = TZP_FAMILY_INET6;
		sa.port = tzposix_htons(in6->sin6_port);
		copy(sa.addr, in6->sin6_addr.s6_addr, 16);
		sa.scope = in6->sin6_scope_id;
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
		size_t n = 0;
		sa.family = TZP_FAMILY_UNIX;
		while (n + 2 < sl && n < TZP_MAX_UNIX_PATH && un->sun_path[n])
			n++;
		copy((uint8_t *)sa.path, (const uint8_t *)un->sun_path, n);
		sa.path_len = (uint16_t)n;
		break;
	}
	default:
		return 0;
	}
	return tzp_encode_sockaddr(&sa, out);
}

/* ---- Preopened listen sockets ----------------------------------------- */

static int parse_port(const char *s, uint16_t *port)
{
	uint32_t v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint32_t)(*s - '0');
		if (v > 65535)
			return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static int parse_ipv4(const char *s, size_t n, uint8_t *out)
{
	uint32_t v = 0;
	int parts = 0, digits = 0;
	size_t i;

	for (i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!digits || parts == 4)
				return -1;
			out[parts++] = (uint8_t)v;
			v = 0;
			digits = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 3)
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
		if (v > 255)
			return -1;
	}
	return parts == 4 ? 0 : -1;
}

/* Preopen specs carry IPv4 literals and UNIX paths; IPv6 listeners are
 * left to the guest's tzposix.socket. */
int tzwasi_preopen_listen(struct tzwasi *w, const char *spec)
{
	struct sockaddr_storage ss;
	struct tzwasi_fd e;
	socklen_t sl;
	int type, one = 1, i;
	uint32_t slot;
	size_t n = slen(spec);

	zero((uint8_t *)&ss, sizeof(ss));
	if (n > 6 && spec[0] == 'u' && spec[1] == 'n' && spec[2] == 'i' && spec[3] == 'x' && spec[4] == ':') {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		if (n - 5 >= TZPOSIX_UNIX_PATH_MAX)
			return TZWASI_ENAMETOOLONG;
		un->sun_family = AF_UNIX;
		copy((uint8_t *)un->sun_path, (const uint8_t *)spec + 5, n - 5);
		sl = (socklen_t)(2 + n - 5);
		type = SOCK_STREAM;
	} else if (n > 6 && (spec[0] == 't' || spec[0] == 'u') && spec[1] == (spec[0] == 't' ? 'c' : 'd') &&
		   spec[2] == 'p' && spec[3] == ':' && spec[4] == '/' && spec[5] == '/') {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		const char *host = spec + 6;
		size_t colon = 0, k;
		uint16_t port;
		for (k = 0; host[k]; k++)
			if (host[k] == ':')
				colon = k;
		if (!colon || parse_ipv4(host, colon, (uint8_t *)&in->sin_addr) != 0 ||
		    parse_port(host + colon + 1, &port) != 0)
			return TZWASI_EINVAL;
		in->sin_family = AF_INET;
		in->sin_port = tzposix_htons(port);
		sl = sizeof(*in);
		type = spec[0] == 't' ? SOCK_STREAM : SOCK_DGRAM;
	} else {
		return TZWASI_EINVAL;
	}
	for (slot = 0; slot < TZWASI_MAX_FDS && w->fds[slot].kind != TZWASI_FREE; slot++)
		;
	if (slot == TZWASI_MAX_FDS)
		return TZWASI_EMFILE;
	e.kind = type == SOCK_STREAM ? TZWASI_STREAM : TZWASI_DGRAM;
	e.preopen = 0;
	e.flags = FDFLAG_NONBLOCK;
	e.path = 0;
	e.host = tzposix_socket(ss.ss_family, type | SOCK_NONBLOCK, 0);
	if (e.host < 0)
		return fail();
	if (ss.ss_family == AF_UNIX)
		tzposix_unlink(((struct sockaddr_un *)&ss)->sun_path); /* a stale node */
	else if (tzposix_setsockopt(e.host, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto err;
	if (tzposix_bind(e.host, (struct sockaddr *)&ss, sl) != 0)
		goto err;
	if (type == SOCK_STREAM && tzposix_listen(e.host, LISTEN_BACKLOG) != 0)
		goto err;
	w->fds[slot] = e;
	return 0;
err:
	i = fail();
	tzposix_close(e.host);
	return i;
}

/* ---- Arguments, environment, clocks, randomness ------------------------ */

int tzwasi_args_sizes_get(struct tzwasi *w, uint32_t argc_out, uint32_t size_out)
{
	if (!put32(w, argc_out, 1) || !put32(w, size_out, (uint32_t)slen(w->name) + 1))
		return TZWASI_EFAULT;
	return 0;
}

int tzwasi_args_get(struct tzwasi *w, uint32_t argv, uint32_t buf)
{
	uint32_t n = (uint32_t)slen(w->name) + 1;
	uint8_t *b = span(w, buf, n);

	if (!b || !span(w, argv, 4))
		return TZWASI_EFAULT;
	copy(b, (const uint8_t *)w->name, n);
	put32(w, argv, buf);
	return 0;
}

int tzwasi_environ_sizes_get(struct tzwasi *w, uint32_t n_out, uint32_t size_out)
{
	if (!put32(w, n_out, 0) || !put32(w, size_out, 0))
		return TZWASI_EFAULT;
	return 0;
}

int tzwasi_environ_get(struct tzwasi *w, uint32_t env, uint32_t buf)
{
	(void)w;
	(void)env;
	(void)buf;
	return 0;
}

int tzwasi_clock_res_get(struct tzwasi *w, uint32_t id, uint32_t out)
{
	if (id > 1)
		return TZWASI_EINVAL;
	/* TEE_Time counts milliseconds, on OP-TEE and in the host build. */
	if (!put64(w, out, 1000000))
		return TZWASI_EFAULT;
	return 0;
}

int tzwasi_clock_time_get(struct tzwasi *w, uint32_t id, uint64_t precision, uint32_t out)
{
	uint64_t t;

	(void)precision;
	if (id > 1)
		return TZWASI_EINVAL;
	if (!span(w, out, 8))
		return TZWASI_EFAULT;
	t = tzwasi_platform_clock(id);
	if (id == 1)
		t -= w->mono_base;
	put64(w, out, t);
	return 0;
}

int tzwasi_random_get(struct tzwasi *w, uint32_t buf, uint32_t len)
{
	uint8_t *b = span(w, buf, len);

	if (!b)
		return TZWASI_EFAULT;
	tzwasi_platform_random(b, len);
	return 0;
}

/* ---- stdout and stderr: lines to the log --------------------------------- */

static void log_line(struct tzwasi *w, int stream, const char *b, uint32_t n)
{
	uint64_t now = tzwasi_platform_clock(1);
	uint64_t add = (now - w->log_last_ns) / 1000000 * TZWASI_LOG_RATE;

	if (add > 0) {
		w->log_tokens_ms += add;
		w->log_last_ns = now;
		if (w->log_tokens_ms > (uint64_t)TZWASI_LOG_BURST * 1000)
			w->log_tokens_ms = (uint64_t)TZWASI_LOG_BURST * 1000;
	}
	if (w->log_tokens_ms < 1000) {
		w->log_dropped++;
		return;
	}
	w->log_tokens_ms -= 1000;
	if (w->log_dropped) {
		char msg[48] = "dropped lines over the rate: ";
		char digits[24];
		uint64_t d = w->log_dropped;
		int k = 0, m = 29;
		while (d && k < 20) {
			digits[k++] = (char)('0' + d % 10);
			d /= 10;
		}
		while (k > 0)
			msg[m++] = digits[--k];
		tzwasi_platform_log(stream, msg, (uint32_t)m);
		w->log_dropped = 0;
	}
	tzwasi_platform_log(stream, b, n);
}

static void log_write(struct tzwasi *w, int stream, const uint8_t *b, uint32_t n)
{
	struct tzwasi_line *l = &w->line[stream];
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (b[i] == '\n') {
			log_line(w, stream, l->b, l->len);
			l->len = 0;
			continue;
		}
		if (l->len == TZWASI_LINE_BYTES) {
			log_line(w, stream, l->b, l->len);
			l->len = 0;
		}
		l->b[l->len++] = (char)b[i];
	}
}

/* ---- Descriptor calls ------------------------------------------------------ */

static uint8_t filetype(const struct tzwasi_fd *e)
{
	switch (e->kind) {
	case TZWASI_STDIN:
	case TZWASI_STDOUT:
	case TZWASI_STDERR:
		return FILETYPE_CHARACTER_DEVICE;
	case TZWASI_DIR:
		return FILETYPE_DIRECTORY;
	case TZWASI_STREAM:
		return FILETYPE_SOCKET_STREAM;
	case TZWASI_DGRAM:
		return FILETYPE_SOCKET_DGRAM;
	default:
		return FILETYPE_UNKNOWN;
	}
}

int tzwasi_fd_check(struct tzwasi *w, uint32_t fd, int then)
{
	return get(w, fd) ? then : TZWASI_EBADF;
}

int tzwasi_fd_close(struct tzwasi *w, uint32_t fd)
{
	struct tzwasi_fd *e = get(w, fd);
	int host;

	if (!e)
		return TZWASI_EBADF;
	host = e->host;
	release(e);
	if (host >= 0 && tzposix_close(host) != 0)
		return fail();
	return 0;
}

/* record checks what the calls that fill in a record for fd share: fd is
 * open (and a preopened directory where preopen is set), else EBADF; the
 * record's n bytes at out lie in guest memory, else EFAULT. It zeroes them
 * and returns the entry in *e and the record in *b. */
static int record(struct tzwasi *w, uint32_t fd, int preopen, uint32_t out, uint32_t n,
		  struct tzwasi_fd **e, uint8_t **b)
{
	*e = get(w, fd);
	if (!*e || (preopen && !(*e)->preopen))
		return TZWASI_EBADF;
	*b = span(w, out, n);
	if (!*b)
		return TZWASI_EFAULT;
	zero(*b, n);
	return 0;
}

int tzwasi_fd_fdstat_get(struct tzwasi *w, uint32_t fd, uint32_t out)
{
	struct tzwasi_fd *e;
	uint8_t *b;
	int er = record(w, fd, 0, out, 24, &e, &b);

	if (er)
		return er;
	b[0] = filetype(e);
	tzp_put16(b + 2, e->flags);
	tzp_put64(b + 8, ALL_RIGHTS);
	tzp_put64(b + 16, ALL_RIGHTS);
	return 0;
}

int tzwasi_fd_fdstat_set_flags(struct tzwasi *w, uint32_t fd, uint32_t flags)
{
	struct tzwasi_fd *e = get(w, fd);
	int fl;

	if (!e)
		return TZWASI_EBADF;
	if (flags & ~(uint32_t)FDFLAGS_ALL)
		return TZWASI_EINVAL;
	if (flags & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC))
		return TZWASI_ENOTSUP;
	if (e->host < 0) {
		e->flags = (uint16_t)flags;
		return 0;
	}
	if ((flags ^ e->flags) & FDFLAG_APPEND)
		return TZWASI_ENOTSUP;
	if ((flags ^ e->flags) & FDFLAG_NONBLOCK) {
		fl = tzposix_fcntl(e->host, F_GETFL);
		if (fl < 0)
			return fail();
		fl = (flags & FDFLAG_NONBLOCK) ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
		if (tzposix_fcntl(e->host, F_SETFL, fl) != 0)
			return fail();
	}
	e->flags = (uint16_t)flags;
	return 0;
}

static void filestat(uint8_t *b, uint8_t type)
{
	zero(b, 64);
	b[16] = type;
	tzp_put64(b + 24, 1); /* nlink */
}

int tzwasi_fd_filestat_get(struct tzwasi *w, uint32_t fd, uint32_t out)
{
	struct tzwasi_fd *e;
	uint8_t *b;
	int er = record(w, fd, 0, out, 64, &e, &b);

	if (er)
		return er;
	filestat(b, filetype(e));
	return 0;
}

int tzwasi_fd_prestat_get(struct tzwasi *w, uint32_t fd, uint32_t out)
{
	struct tzwasi_fd *e;
	uint8_t *b;
	int er = record(w, fd, 1, out, 8, &e, &b);

	if (er)
		return er;
	tzp_put32(b + 4, (uint32_t)slen(e->path));
	return 0;
}

int tzwasi_fd_prestat_dir_name(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len)
{
	struct tzwasi_fd *e = get(w, fd);
	uint32_t n;
	uint8_t *b;

	if (!e || !e->preopen)
		return TZWASI_EBADF;
	n = (uint32_t)slen(e->path);
	if (len < n)
		return TZWASI_ENAMETOOLONG;
	b = span(w, buf, n);
	if (!b)
		return TZWASI_EFAULT;
	copy(b, (const uint8_t *)e->path, n);
	return 0;
}

int tzwasi_fd_readdir(struct tzwasi *w, uint32_t fd)
{
	struct tzwasi_fd *e = get(w, fd);

	if (!e)
		return TZWASI_EBADF;
	if (e->kind != TZWASI_DIR)
		return TZWASI_ENOTDIR;
	return TZWASI_ENOSYS; /* the protocol cannot list a directory */
}

int tzwasi_fd_renumber(struct tzwasi *w, uint32_t from, uint32_t to)
{
	struct tzwasi_fd *e = get(w, from), *old = get(w, to);
	int host;

	if (!e || !old)
		return TZWASI_EBADF;
	if (from == to)
		return 0;
	host = old->host;
	if (old->path)
		TEE_Free(old->path);
	*old = *e;
	e->path = 0;
	release(e);
	if (host >= 0 && tzposix_close(host) != 0)
		return fail();
	return 0;
}

/* iovecs checks n iovecs at ptr, each {u32 buf, u32 len}, against guest
 * memory; the total must fit in 32 bits. */
static int iovecs(struct tzwasi *w, uint32_t ptr, uint32_t n, uint64_t *total)
{
	const uint8_t *v;
	uint32_t i;

	*total = 0;
	if (n > 1024)
		return TZWASI_EINVAL;
	v = span(w, ptr, n * 8);
	if (!v)
		return TZWASI_EFAULT;
	for (i = 0; i < n; i++) {
		uint32_t b = tzp_get32(v + 8 * i), l = tzp_get32(v + 8 * i + 4);
		if (!span(w, b, l))
			return TZWASI_EFAULT;
		*total += l;
	}
	if (*total > 0x7fffffff)
		return TZWASI_EINVAL;
	return 0;
}

static ssize_t read1(const struct tzwasi_fd *e, uint8_t *b, uint32_t n, int flags, int recv)
{
	if (recv)
		return tzposix_recv(e->host, b, n, flags);
	return tzposix_read(e->host, b, n);
}

static ssize_t write1(const struct tzwasi_fd *e, const uint8_t *b, uint32_t n, int send)
{
	if (send)
		return tzposix_send(e->host, b, n, MSG_NOSIGNAL);
	return tzposix_write(e->host, b, n);
}

/* io_args checks what fd_read/fd_write and sock_recv/sock_send share: fd
 * is open, the iovecs lie in guest memory (their total in *total), and so
 * does the count written back at n_out. */
static int io_args(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs, uint32_t n_out,
		   struct tzwasi_fd **e, uint64_t *total)
{
	int er;

	*e = get(w, fd);
	if (!*e)
		return TZWASI_EBADF;
	er = iovecs(w, iovs, niovs, total);
	if (er)
		return er;
	return span(w, n_out, 4) ? 0 : TZWASI_EFAULT;
}

static int readv(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs, int msg_flags,
		 int recv, uint32_t n_out, uint32_t flags_out)
{
	struct tzwasi_fd *e;
	uint64_t total;
	ssize_t n = 0;
	uint32_t i, nonempty = 0, first = 0;
	const uint8_t *v;
	int er = io_args(w, fd, iovs, niovs, n_out, &e, &total);

	if (er)
		return er;
	if (recv && !span(w, flags_out, 2))
		return TZWASI_EFAULT;
	v = w->mem + iovs;
	for (i = 0; i < niovs; i++) {
		if (tzp_get32(v + 8 * i + 4)) {
			if (!nonempty)
				first = i;
			nonempty++;
		}
	}
	if (recv && !is_socket(e))
		return TZWASI_ENOTSOCK;
	switch (e->kind) {
	case TZWASI_STDIN:
		n = 0; /* end of file */
		break;
	case TZWASI_STDOUT:
	case TZWASI_STDERR:
		return TZWASI_EBADF;
	case TZWASI_DIR:
		return TZWASI_EISDIR;
	default:
		if (nonempty == 0) {
			n = 0;
		} else if (nonempty == 1 || e->kind != TZWASI_DGRAM) {
			/* A stream may return less than asked: fill the first
			 * buffer, as one read(2) of it would. */
			n = read1(e, w->mem + tzp_get32(v + 8 * first),
				  tzp_get32(v + 8 * first + 4), msg_flags, recv);
		} else {
			/* A datagram is one: gather it, then scatter. */
			uint32_t want = total < TZWASI_GATHER_BYTES ? (uint32_t)total : TZWASI_GATHER_BYTES;
			uint32_t off = 0;
			n = read1(e, w->gather, want, msg_flags, recv);
			for (i = 0; n > 0 && i < niovs && off < (uint32_t)n; i++) {
				uint32_t b = tzp_get32(v + 8 * i), l = tzp_get32(v + 8 * i + 4);
				if (l > (uint32_t)n - off)
					l = (uint32_t)n - off;
				copy(w->mem + b, w->gather + off, l);
				off += l;
			}
		}
		if (n < 0)
			return fail();
	}
	put32(w, n_out, (uint32_t)n);
	if (recv)
		put16(w, flags_out, 0);
	return 0;
}

static int writev(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs, int send,
		  uint32_t n_out)
{
	struct tzwasi_fd *e;
	uint64_t total;
	ssize_t n = 0, k;
	uint32_t i;
	const uint8_t *v;
	int er = io_args(w, fd, iovs, niovs, n_out, &e, &total);

	if (er)
		return er;
	if (send && !is_socket(e))
		return TZWASI_ENOTSOCK;
	v = w->mem + iovs;
	switch (e->kind) {
	case TZWASI_STDOUT:
	case TZWASI_STDERR:
		for (i = 0; i < niovs; i++)
			log_write(w, e->kind == TZWASI_STDERR, w->mem + tzp_get32(v + 8 * i),
				  tzp_get32(v + 8 * i + 4));
		n = (ssize_t)total;
		break;
	case TZWASI_STDIN:
		return TZWASI_EBADF;
	case TZWASI_DIR:
		return TZWASI_EISDIR;
	case TZWASI_DGRAM:
		if (niovs <= 1) {
			n = write1(e, niovs ? w->mem + tzp_get32(v) : w->gather,
				   niovs ? tzp_get32(v + 4) : 0, send);
		} else {
			uint32_t off = 0;
			if (total > TZWASI_GATHER_BYTES)
				return TZWASI_EMSGSIZE;
			for (i = 0; i < niovs; i++) {
				uint32_t l = tzp_get32(v + 8 * i + 4);
				copy(w->gather + off, w->mem + tzp_get32(v + 8 * i), l);
				off += l;
			}
			n = write1(e, w->gather, off, send);
		}
		if (n < 0)
			return fail();
		break;
	default:
		for (i = 0; i < niovs; i++) {
			uint32_t l = tzp_get32(v + 8 * i + 4);
			if (!l)
				continue;
			k = write1(e, w->mem + tzp_get32(v + 8 * i), l, send);
			if (k < 0) {
				if (n > 0)
					break;
				return fail();
			}
			n += k;
			if ((uint32_t)k < l)
				break;
		}
	}
	put32(w, n_out, (uint32_t)n);
	return 0;
}

int tzwasi_fd_read(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs, uint32_t n_out)
{
	return readv(w, fd, iovs, niovs, 0, 0, n_out, 0);
}

int tzwasi_fd_write(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs, uint32_t n_out)
{
	return writev(w, fd, iovs, niovs, 0, n_out);
}

/* ---- Paths ------------------------------------------------------------ */

/* path joins a guest path (relative, no NUL) to the directory dirfd names;
 * the result is TEE_Malloc'd (the caller frees it). */
static int path(struct tzwasi *w, uint32_t dirfd, uint32_t ptr, uint32_t len, char **out)
{
	struct tzwasi_fd *e = get(w, dirfd);
	const uint8_t *p;
	size_t dl, full, i;
	char *s;

	if (!e)
		return TZWASI_EBADF;
	if (e->kind != TZWASI_DIR)
		return TZWASI_ENOTDIR;
	p = span(w, ptr, len);
	if (!p)
		return TZWASI_EFAULT;
	if (len == 0)
		return TZWASI_ENOENT;
	if (p[0] == '/')
		return TZWASI_ENOTCAPABLE; /* WASI paths are relative */
	for (i = 0; i < len; i++)
		if (p[i] == 0)
			return TZWASI_EINVAL;
	dl = slen(e->path);
	if (dl == 1)
		dl = 0; /* the root: "/" + p */
	full = dl + 1 + len;
	if (full > TZP_MAX_PATH)
		return TZWASI_ENAMETOOLONG;
	s = TEE_Malloc(full + 1, TEE_MALLOC_FILL_ZERO);
	if (!s)
		return TZWASI_EIO;
	copy((uint8_t *)s, (const uint8_t *)e->path, dl);
	s[dl] = '/';
	copy((uint8_t *)s + dl + 1, p, len);
	s[full] = 0;
	*out = s;
	return 0;
}

int tzwasi_path_open(struct tzwasi *w, uint32_t dirfd, uint32_t lookup, uint32_t path_ptr,
		     uint32_t path_len, uint32_t oflags, uint64_t rights, uint64_t inheriting,
		     uint32_t fdflags, uint32_t fd_out)
{
	struct tzwasi_fd e;
	char *p;
	int er, flags;
	int rd = (rights & RIGHT_FD_READ) != 0, wr = (rights & RIGHT_FD_WRITE) != 0;

	(void)lookup; /* symlinks are always followed: the shadow keeps them inside */
	(void)inheriting;
	er = path(w, dirfd, path_ptr, path_len, &p);
	if (er)
		return er;
	if (!span(w, fd_out, 4)) {
		er = TZWASI_EFAULT;
		goto out;
	}
	if ((oflags & ~(uint32_t)(OFLAG_CREAT | OFLAG_DIRECTORY | OFLAG_EXCL | OFLAG_TRUNC)) ||
	    (fdflags & ~(uint32_t)FDFLAGS_ALL)) {
		er = TZWASI_EINVAL;
		goto out;
	}
	if (fdflags & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC)) {
		er = TZWASI_ENOTSUP;
		goto out;
	}
	flags = rd && wr ? O_RDWR : wr ? O_WRONLY : O_RDONLY;
	if (oflags & OFLAG_CREAT)
		flags |= O_CREAT;
	if (oflags & OFLAG_DIRECTORY)
		flags |= O_DIRECTORY;
	if (oflags & OFLAG_EXCL)
		flags |= O_EXCL;
	if (oflags & OFLAG_TRUNC)
		flags |= O_TRUNC;
	if (fdflags & FDFLAG_APPEND)
		flags |= O_APPEND;
	if (fdflags & FDFLAG_NONBLOCK)
		flags |= O_NONBLOCK;
	e.host = tzposix_open(p, flags, 0666);
	if (e.host < 0) {
		er = fail();
		goto out;
	}
	e.kind = TZWASI_FILE;
	e.preopen = 0;
	e.flags = (uint16_t)fdflags;
	e.path = 0;
	if (oflags & OFLAG_DIRECTORY) {
		e.kind = TZWASI_DIR;
		e.path = p; /* kept by the entry */
		p = 0;
	}
	er = publish(w, &e, fd_out);
out:
	if (p)
		TEE_Free(p);
	return er;
}

static int path_op(struct tzwasi *w, uint32_t dirfd, uint32_t ptr, uint32_t len, int op)
{
	char *p;
	int er = path(w, dirfd, ptr, len, &p), r;

	if (er)
		return er;
	switch (op) {
	case 0:
		r = tzposix_mkdir(p, 0777);
		break;
	case 1:
		r = tzposix_rmdir(p);
		break;
	default:
		r = tzposix_unlink(p);
		break;
	}
	er = r != 0 ? fail() : 0;
	TEE_Free(p);
	return er;
}

int tzwasi_path_create_directory(struct tzwasi *w, uint32_t dirfd, uint32_t ptr, uint32_t len)
{
	return path_op(w, dirfd, ptr, len, 0);
}

int tzwasi_path_remove_directory(struct tzwasi *w, uint32_t dirfd, uint32_t ptr, uint32_t len)
{
	return path_op(w, dirfd, ptr, len, 1);
}

int tzwasi_path_unlink_file(struct tzwasi *w, uint32_t dirfd, uint32_t ptr, uint32_t len)
{
	return path_op(w, dirfd, ptr, len, 2);
}

int tzwasi_path_rename(struct tzwasi *w, uint32_t dirfd, uint32_t ptr, uint32_t len,
		       uint32_t dirfd2, uint32_t ptr2, uint32_t len2)
{
	char *from, *to;
	int er = path(w, dirfd, ptr, len, &from);

	if (er)
		return er;
	er = path(w, dirfd2, ptr2, len2, &to);
	if (!er) {
		er = tzposix_rename(from, to) != 0 ? fail() : 0;
		TEE_Free(to);
	}
	TEE_Free(from);
	return er;
}

/* probe finds what a path is without side effects (docs/wasm.md,
 * path_filestat_get): a directory; something else in an existing
 * directory (kind unknown); or the error. */
static int probe(char *p, uint8_t *type)
{
	const int dir_flags = O_RDONLY | O_DIRECTORY | O_NONBLOCK;
	size_t n, i, cut;
	char save;
	int fd, e;

	fd = tzposix_open(p, dir_flags, 0);
	if (fd >= 0) {
		tzposix_close(fd);
		*type = FILETYPE_DIRECTORY;
		return 0;
	}
	e = host_errno();
	if (e != ENOTDIR)
		return tzwasi_errno(e);
	n = slen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	cut = 1;
	for (i = 0; i < n; i++)
		if (p[i] == '/')
			cut = i + 1;
	save = p[cut];
	p[cut] = 0;
	fd = tzposix_open(p, dir_flags, 0);
	e = host_errno();
	p[cut] = save;
	if (fd < 0)
		return tzwasi_errno(e);
	tzposix_close(fd);
	if (p[slen(p) - 1] == '/')
		return tzwasi_errno(ENOTDIR); /* "file/" names no directory */
	*type = FILETYPE_UNKNOWN;
	return 0;
}

int tzwasi_path_filestat_get(struct tzwasi *w, uint32_t dirfd, uint32_t lookup, uint32_t ptr,
			     uint32_t len, uint32_t out)
{
	uint8_t type = 0, *b;
	char *p;
	int er;

	(void)lookup;
	er = path(w, dirfd, ptr, len, &p);
	if (er)
		return er;
	b = span(w, out, 64);
	if (!b)
		er = TZWASI_EFAULT;
	else
		er = probe(p, &type);
	TEE_Free(p);
	if (!er)
		filestat(b, type);
	return er;
}

/* ---- Sockets ------------------------------------------------------------- */

int tzwasi_sock_accept(struct tzwasi *w, uint32_t fd, uint32_t flags, uint32_t fd_out)
{
	struct tzwasi_fd *l = get(w, fd), e;

	if (!l)
		return TZWASI_EBADF;
	if (l->kind != TZWASI_STREAM)
		return TZWASI_ENOTSOCK;
	if (flags & ~(uint32_t)FDFLAG_NONBLOCK)
		return TZWASI_EINVAL;
	if (!span(w, fd_out, 4))
		return TZWASI_EFAULT;
	e.host = tzposix_accept4(l->host, 0, 0, (flags & FDFLAG_NONBLOCK) ? SOCK_NONBLOCK : 0);
	if (e.host < 0)
		return fail();
	e.kind = TZWASI_STREAM;
	e.preopen = 0;
	e.flags = (uint16_t)flags;
	e.path = 0;
	return publish(w, &e, fd_out);
}

int tzwasi_sock_recv(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs,
		     uint32_t riflags, uint32_t n_out, uint32_t roflags_out)
{
	int flags = 0;

	if (riflags & ~3u)
		return TZWASI_EINVAL;
	if (riflags & 1)
		flags |= MSG_PEEK;
	if (riflags & 2)
		flags |= MSG_WAITALL;
	return readv(w, fd, iovs, niovs, flags, 1, n_out, roflags_out);
}

int tzwasi_sock_send(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs,
		     uint32_t siflags, uint32_t n_out)
{
	if (siflags != 0)
		return TZWASI_EINVAL; /* WASI defines no send flags */
	return writev(w, fd, iovs, niovs, 1, n_out);
}

/* sock is fd's entry if it is a socket; else 0, and *er says why. */
static struct tzwasi_fd *sock(struct tzwasi *w, uint32_t fd, int *er)
{
	struct tzwasi_fd *e = get(w, fd);

	*er = 0;
	if (!e)
		*er = TZWASI_EBADF;
	else if (!is_socket(e))
		*er = TZWASI_ENOTSOCK;
	return *er ? 0 : e;
}

int tzwasi_sock_shutdown(struct tzwasi *w, uint32_t fd, uint32_t how)
{
	int er, h;
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	switch (how) {
	case 1: h = SHUT_RD; break;
	case 2: h = SHUT_WR; break;
	case 3: h = SHUT_RDWR; break;
	default: return TZWASI_EINVAL;
	}
	return tzposix_shutdown(e->host, h) != 0 ? fail() : 0;
}

/* ---- poll_oneoff ------------------------------------------------------------ */

#define SUB_SIZE 48
#define EVENT_SIZE 32

static void event(uint8_t *out, uint32_t *n, const uint8_t *sub, uint16_t er, int hangup)
{
	uint8_t *o = out + (size_t)*n * EVENT_SIZE;

	zero(o, EVENT_SIZE);
	copy(o, sub, 8); /* userdata */
	tzp_put16(o + 8, er);
	o[10] = sub[8];
	if (hangup)
		tzp_put16(o + 24, 1);
	(*n)++;
}

/* deadline computes a clock subscription's deadline on the monotonic
 * clock of the platform; 0: bad clock. */
static int deadline(struct tzwasi *w, const uint8_t *s, uint64_t now, uint64_t *d)
{
	uint32_t id = tzp_get32(s + 16);
	uint64_t t = tzp_get64(s + 24);
	int abs = tzp_get16(s + 40) & 1;

	if (id > 1)
		return TZWASI_EINVAL;
	if (!abs)
		*d = now + t < now ? UINT64_MAX : now + t;
	else if (id == 1)
		*d = w->mono_base + t < t ? UINT64_MAX : w->mono_base + t;
	else {
		uint64_t real = tzwasi_platform_clock(0);
		*d = t <= real ? now : now + (t - real);
	}
	return 0;
}

int tzwasi_poll_oneoff(struct tzwasi *w, uint32_t in, uint32_t out, uint32_t nsubs, uint32_t n_out)
{
	struct pollfd pfd[TZWASI_MAX_SUBS];
	int8_t idx[TZWASI_MAX_SUBS];
	uint8_t clock_ok[TZWASI_MAX_SUBS];
	uint64_t dls[TZWASI_MAX_SUBS];
	uint8_t *src, *dst, *s;
	uint64_t now, dl = 0, d;
	uint32_t i, k, npfd = 0, nev = 0;
	int have_dl = 0, timeout = -1, r;

	if (nsubs == 0)
		return TZWASI_EINVAL;
	if (nsubs > TZWASI_MAX_SUBS)
		return TZWASI_ENOTSUP;
	src = span(w, in, nsubs * SUB_SIZE);
	if (!src)
		return TZWASI_EFAULT;
	dst = span(w, out, nsubs * EVENT_SIZE);
	if (!dst || !span(w, n_out, 4))
		return TZWASI_EFAULT;
	/* Events may overwrite the subscriptions: decode a private copy. */
	copy(w->subs, src, (size_t)nsubs * SUB_SIZE);
	for (i = 0; i < nsubs; i++) {
		uint8_t tag = w->subs[i * SUB_SIZE + 8];
		if (tag > 2)
			return TZWASI_EINVAL;
	}
	now = tzwasi_platform_clock(1);
	for (i = 0; i < nsubs; i++) {
		struct tzwasi_fd *e;
		s = w->subs + i * SUB_SIZE;
		idx[i] = -1;
		if (s[8] == 0) {
			clock_ok[i] = 0;
			if (deadline(w, s, now, &d) != 0) {
				event(dst, &nev, s, TZWASI_EINVAL, 0);
				continue;
			}
			clock_ok[i] = 1;
			dls[i] = d;
			if (!have_dl || d < dl)
				dl = d;
			have_dl = 1;
			continue;
		}
		e = get(w, tzp_get32(s + 16));
		if (!e) {
			event(dst, &nev, s, TZWASI_EBADF, 0);
			continue;
		}
		if (e->host < 0) {
			event(dst, &nev, s, 0, e->kind == TZWASI_STDIN);
			continue;
		}
		for (k = 0; k < npfd && pfd[k].fd != e->host; k++)
			;
		if (k == npfd) {
			pfd[k].fd = e->host;
			pfd[k].events = 0;
			pfd[k].revents = 0;
			npfd++;
		}
		pfd[k].events |= s[8] == 1 ? POLLIN : POLLOUT;
		idx[i] = (int8_t)k;
	}
	if (nev > 0)
		timeout = 0;
	else if (have_dl) {
		uint64_t ms = dl > now ? (dl - now + 999999) / 1000000 : 0;
		timeout = ms > 0x7fffffff ? 0x7fffffff : (int)ms;
	}
	/* With no descriptor, the wait for a clock goes to the shadow as a
	 * poll of nothing too, so that closing the session ends it. */
	if (npfd > 0 || nev == 0) {
		r = tzposix_poll(pfd, npfd, timeout);
		if (r < 0) {
			int e = host_errno();
			if (e == EINTR)
				goto done; /* the guest polls again */
			for (i = 0; i < nsubs; i++)
				if (idx[i] >= 0)
					event(dst, &nev, w->subs + i * SUB_SIZE, tzwasi_errno(e), 0);
			goto done;
		}
		for (i = 0; i < nsubs; i++) {
			short rev, want;
			if (idx[i] < 0)
				continue;
			s = w->subs + i * SUB_SIZE;
			rev = pfd[idx[i]].revents;
			want = s[8] == 1 ? (POLLIN | POLLPRI) : POLLOUT;
			if (!(rev & (want | POLLERR | POLLHUP | POLLNVAL)))
				continue;
			event(dst, &nev, s, (rev & POLLNVAL) ? TZWASI_EBADF : 0, (rev & POLLHUP) != 0);
		}
	}
	if (have_dl) {
		now = tzwasi_platform_clock(1);
		for (i = 0; i < nsubs; i++)
			if (w->subs[i * SUB_SIZE + 8] == 0 && clock_ok[i] && dls[i] <= now)
				event(dst, &nev, w->subs + i * SUB_SIZE, 0, 0);
	}
done:
	put32(w, n_out, nev);
	return 0;
}

/* ---- The tzposix import module ------------------------------------------- */

int tzwasi_tz_socket(struct tzwasi *w, uint32_t domain, uint32_t type, uint32_t fd_out)
{
	struct tzwasi_fd e;
	uint32_t base = type & ~(uint32_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (!span(w, fd_out, 4))
		return TZWASI_EFAULT;
	if ((domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX) ||
	    (base != SOCK_STREAM && base != SOCK_DGRAM))
		return TZWASI_EINVAL;
	e.host = tzposix_socket((int)domain, (int)(type & ~(uint32_t)SOCK_CLOEXEC), 0);
	if (e.host < 0)
		return fail();
	e.kind = base == SOCK_STREAM ? TZWASI_STREAM : TZWASI_DGRAM;
	e.preopen = 0;
	e.flags = (type & SOCK_NONBLOCK) ? FDFLAG_NONBLOCK : 0;
	e.path = 0;
	return publish(w, &e, fd_out);
}

static int addr_call(struct tzwasi *w, uint32_t fd, uint32_t addr, uint32_t len, int connect)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int er;
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	er = to_host(w, addr, len, &ss, &sl);
	if (er)
		return er;
	if (connect)
		return tzposix_connect(e->host, (struct sockaddr *)&ss, sl) != 0 ? fail() : 0;
	return tzposix_bind(e->host, (struct sockaddr *)&ss, sl) != 0 ? fail() : 0;
}

int tzwasi_tz_bind(struct tzwasi *w, uint32_t fd, uint32_t addr, uint32_t len)
{
	return addr_call(w, fd, addr, len, 0);
}

int tzwasi_tz_connect(struct tzwasi *w, uint32_t fd, uint32_t addr, uint32_t len)
{
	return addr_call(w, fd, addr, len, 1);
}

int tzwasi_tz_listen(struct tzwasi *w, uint32_t fd, uint32_t backlog)
{
	int er;
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	if (backlog > LISTEN_BACKLOG)
		backlog = LISTEN_BACKLOG;
	return tzposix_listen(e->host, (int)backlog) != 0 ? fail() : 0;
}

int tzwasi_tz_sendto(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t flags,
		     uint32_t addr, uint32_t addr_len, uint32_t n_out)
{
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	const uint8_t *b;
	ssize_t n;
	int er;
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	b = span(w, buf, len);
	if (!b || !span(w, n_out, 4))
		return TZWASI_EFAULT;
	if (flags & ~(uint32_t)MSG_DONTWAIT)
		return TZWASI_EINVAL;
	if (addr_len) {
		er = to_host(w, addr, addr_len, &ss, &sl);
		if (er)
			return er;
	}
	n = tzposix_sendto(e->host, b, len, (int)flags | MSG_NOSIGNAL,
			   addr_len ? (struct sockaddr *)&ss : 0, sl);
	if (n < 0)
		return fail();
	put32(w, n_out, (uint32_t)n);
	return 0;
}

int tzwasi_tz_recvfrom(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t flags,
		       uint32_t addr_buf, uint32_t addr_buf_len, uint32_t addr_len_out,
		       uint32_t n_out)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t enc[TZP_MAX_SOCKADDR];
	uint8_t *b;
	size_t an;
	ssize_t n;
	int er;
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	b = span(w, buf, len);
	if (!b || !span(w, n_out, 4) || !span(w, addr_len_out, 4))
		return TZWASI_EFAULT;
	if (addr_buf_len < TZP_MAX_SOCKADDR || !span(w, addr_buf, addr_buf_len))
		return addr_buf_len < TZP_MAX_SOCKADDR ? TZWASI_EINVAL : TZWASI_EFAULT;
	if (flags & ~(uint32_t)(MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL))
		return TZWASI_EINVAL;
	zero((uint8_t *)&ss, sizeof(ss));
	n = tzposix_recvfrom(e->host, b, len, (int)flags, (struct sockaddr *)&ss, &sl);
	if (n < 0)
		return fail();
	an = e->kind == TZWASI_DGRAM ? from_host(&ss, sl, enc) : 0;
	copy(w->mem + addr_buf, enc, an);
	put32(w, addr_len_out, (uint32_t)an);
	put32(w, n_out, (uint32_t)n);
	return 0;
}

static int name_call(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t len_out,
		     int peer)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t enc[TZP_MAX_SOCKADDR];
	size_t an;
	int er, r;
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	if (len < TZP_MAX_SOCKADDR)
		return TZWASI_EINVAL;
	if (!span(w, buf, len) || !span(w, len_out, 4))
		return TZWASI_EFAULT;
	zero((uint8_t *)&ss, sizeof(ss));
	r = peer ? tzposix_getpeername(e->host, (struct sockaddr *)&ss, &sl)
		 : tzposix_getsockname(e->host, (struct sockaddr *)&ss, &sl);
	if (r != 0)
		return fail();
	an = from_host(&ss, sl, enc);
	copy(w->mem + buf, enc, an);
	put32(w, len_out, (uint32_t)an);
	return 0;
}

int tzwasi_tz_getsockname(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t len_out)
{
	return name_call(w, fd, buf, len, len_out, 0);
}

int tzwasi_tz_getpeername(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t len_out)
{
	return name_call(w, fd, buf, len, len_out, 1);
}

/* host_sockopt maps a protocol option onto tzposix's (level, name). */
static int host_sockopt(uint32_t opt, int *level, int *name)
{
	*level = SOL_SOCKET;
	switch (opt) {
	case TZ_SO_REUSEADDR: *name = SO_REUSEADDR; return 0;
	case TZ_SO_KEEPALIVE: *name = SO_KEEPALIVE; return 0;
	case TZ_SO_RCVBUF: *name = SO_RCVBUF; return 0;
	case TZ_SO_SNDBUF: *name = SO_SNDBUF; return 0;
	case TZ_TCP_NODELAY: *level = IPPROTO_TCP; *name = TCP_NODELAY; return 0;
	case TZ_SO_ERROR: *name = SO_ERROR; return 0;
	case TZ_SO_TYPE: *name = SO_TYPE; return 0;
	case TZ_SO_BROADCAST: *name = SO_BROADCAST; return 0;
	case TZ_SO_REUSEPORT: *name = SO_REUSEPORT; return 0;
	default: return -1;
	}
}

int tzwasi_tz_setsockopt(struct tzwasi *w, uint32_t fd, uint32_t opt, uint32_t value)
{
	int er, level, name, v = (int)value;
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	if (host_sockopt(opt, &level, &name) != 0)
		return TZWASI_ENOPROTOOPT;
	return tzposix_setsockopt(e->host, level, name, &v, sizeof(v)) != 0 ? fail() : 0;
}

int tzwasi_tz_getsockopt(struct tzwasi *w, uint32_t fd, uint32_t opt, uint32_t value_out)
{
	int er, level, name, v = 0;
	socklen_t sl = sizeof(v);
	struct tzwasi_fd *e = sock(w, fd, &er);

	if (!e)
		return er;
	if (host_sockopt(opt, &level, &name) != 0)
		return TZWASI_ENOPROTOOPT;
	if (!span(w, value_out, 4))
		return TZWASI_EFAULT;
	if (tzposix_getsockopt(e->host, level, name, &v, &sl) != 0)
		return fail();
	if (opt == TZ_SO_ERROR)
		v = tzwasi_errno(v);
	else if (opt == TZ_SO_TYPE)
		v = e->kind == TZWASI_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
	put32(w, value_out, (uint32_t)v);
	return 0;
}

int tzwasi_tz_mkfifo(struct tzwasi *w, uint32_t dirfd, uint32_t ptr, uint32_t len, uint32_t mode)
{
	char *p;
	int er = path(w, dirfd, ptr, len, &p);

	if (er)
		return er;
	er = tzposix_mkfifo(p, mode & 07777) != 0 ? fail() : 0;
	TEE_Free(p);
	return er;
}
