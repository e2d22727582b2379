//go:build cgo

/* harness.c - drives libtzposix's codec and calls for package fuzz. */
#include <string.h>

#include "../src/proc.h"
#include "harness.h"

int fz_take(const uint8_t *mb, size_t mbsize, uint16_t op, uint32_t seq, const int64_t *args,
	    uint32_t plen, const uint8_t *reqpayload, size_t max_len, int64_t *out)
{
	static uint8_t priv[TZP_PRIV_SIZE];
	struct tzp_request req;
	struct tzp_response r;
	int i, v;

	req.op = op;
	req.seq = seq;
	for (i = 0; i < 6; i++)
		req.args[i] = args[i];
	req.payload_len = plen;
	req.payload = reqpayload;
	memset(&r, 0, sizeof(r));
	v = tzp_take_response(mb, mbsize, &req, max_len, priv, sizeof(priv), &r);
	out[0] = r.ret;
	out[1] = r.err;
	out[2] = r.payload_len;
	for (i = 0; i < 4; i++)
		out[3 + i] = r.aux[i];
	return v;
}

#define MB_MAX (1 << 20)

static struct tzp_proc proc;
static struct tzp_fdslot slots[64];
static uint8_t poll_req[TZP_PRIV_SIZE], priv[TZP_PRIV_SIZE];
static uint8_t mailbox[MB_MAX];
static uint8_t answer[MB_MAX];
static size_t answer_len;
static int answered;

static int exchange(struct tzp_proc *p)
{
	if (!answered)
		return -1;
	memcpy(p->mb, answer, answer_len < p->mbsize ? answer_len : p->mbsize);
	return 0;
}

void fz_setup(size_t mbsize)
{
	if (mbsize > MB_MAX)
		mbsize = MB_MAX;
	tzp_proc_init(&proc, mbsize, slots, 64, poll_req, priv);
	proc.mb = mailbox;
	proc.exchange = exchange;
	answered = 0;
	tzp_proc_current = &proc;
}

void fz_respond(const uint8_t *b, size_t n)
{
	if (n > MB_MAX)
		n = MB_MAX;
	memcpy(answer, b, n);
	answer_len = n;
	answered = 1;
}

uint32_t fz_seq(void) { return proc.seq; }
uint64_t fz_violations(void) { return proc.violations; }
int fz_errno(void) { return proc.err; }
const uint8_t *fz_mailbox(void) { return mailbox; }

long fz_open(const char *path, int flags) { return tzposix_open(path, flags); }
long fz_close(int fd) { return tzposix_close(fd); }
long fz_read(int fd, uint8_t *buf, size_t n) { return (long)tzposix_read(fd, buf, n); }
long fz_write(int fd, const uint8_t *buf, size_t n) { return (long)tzposix_write(fd, buf, n); }
long fz_socket(int domain, int type) { return tzposix_socket(domain, type, 0); }

long fz_accept(int fd, uint8_t *addr, uint32_t *alen)
{
	socklen_t l = *alen;
	long r = tzposix_accept(fd, (struct sockaddr *)(void *)addr, &l);

	*alen = l;
	return r;
}

long fz_recvfrom(int fd, uint8_t *buf, size_t n, uint8_t *addr, uint32_t *alen)
{
	socklen_t l = *alen;
	long r = (long)tzposix_recvfrom(fd, buf, n, 0, (struct sockaddr *)(void *)addr, &l);

	*alen = l;
	return r;
}

long fz_poll(int32_t *fds, int16_t *events, int16_t *revents, size_t n, int timeout)
{
	struct pollfd p[64];
	size_t i;
	long r;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		p[i].fd = fds[i];
		p[i].events = events[i];
		p[i].revents = 0x7ff;
	}
	r = tzposix_poll(p, n, timeout);
	for (i = 0; i < n; i++)
		revents[i] = p[i].revents;
	return r;
}

long fz_getsockopt(int fd, int level, int opt, int *val)
{
	socklen_t l = sizeof(int);

	return tzposix_getsockopt(fd, level, opt, val, &l);
}

long fz_fcntl_getfl(int fd) { return tzposix_fcntl(fd, F_GETFL); }
