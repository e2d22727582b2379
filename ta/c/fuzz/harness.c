//go:build cgo

/* harness.c - drives libtzposix's codec and calls for package fuzz. */
#include <string.h>

#include "../src/proc.h"
#include "harness.h"

int fz_take(const uint8_t *mb, size_t mbsize, uint16_t op, uint32_t seq, const int64_t *args,
	    uint32_t plen, const uint8_t *reqpayload, size_t max_len, int64_t *out)
{
	static uint8_t priv[TZP_PRIV_SIZE], ra[FZ_RA_CAP];
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
	v = tzp_take_response(mb, mbsize, &req, max_len, priv, sizeof(priv), ra, sizeof(ra), &r);
	out[0] = r.ret;
	out[1] = r.err;
	out[2] = r.payload_len;
	for (i = 0; i < 4; i++)
		out[3 + i] = r.aux[i];
	return v;
}

#define MB_MAX (1 << 20)
#define ANSWERS 4

static struct tzp_proc proc;
static struct tzp_fdslot slots[64];
static uint8_t poll_req[TZP_PRIV_SIZE], priv[TZP_PRIV_SIZE];
static uint8_t ra_pool[TZP_RA_POOL_SIZE + 1];
static uint8_t mailbox[MB_MAX];
static uint8_t sent[MB_MAX];
static uint8_t answer[ANSWERS][MB_MAX];
static size_t answer_len[ANSWERS];
static int answers, next_answer, exchanges;

/* exchange keeps a copy of the request and answers with the next scripted
 * response; with none left the session is gone. */
static int exchange(struct tzp_proc *p)
{
	size_t n;

	exchanges++;
	n = TZP_HEADER_SIZE + tzp_get32(p->mb + 12);
	memcpy(sent, p->mb, n < p->mbsize ? n : p->mbsize);
	if (next_answer == answers)
		return -1;
	n = answer_len[next_answer];
	memcpy(p->mb, answer[next_answer++], n < p->mbsize ? n : p->mbsize);
	return 0;
}

void fz_setup(size_t mbsize)
{
	if (mbsize > MB_MAX)
		mbsize = MB_MAX;
	tzp_proc_init(&proc, mbsize, slots, 64, poll_req, priv, TZP_RA_POOL_SIZE ? ra_pool : NULL);
	proc.mb = mailbox;
	proc.exchange = exchange;
	answers = next_answer = exchanges = 0;
	tzp_proc_current = &proc;
}

void fz_respond(const uint8_t *b, size_t n)
{
	if (n > MB_MAX)
		n = MB_MAX;
	if (next_answer == answers)
		answers = next_answer = 0;
	if (answers == ANSWERS)
		return;
	memcpy(answer[answers], b, n);
	answer_len[answers++] = n;
}

uint32_t fz_seq(void) { return proc.seq; }
uint64_t fz_violations(void) { return proc.violations; }
int fz_errno(void) { return proc.err; }
const uint8_t *fz_mailbox(void) { return sent; }
int fz_exchanges(void) { return exchanges; }
int fz_unanswered(void) { return answers - next_answer; }
size_t fz_ra_used(void) { return proc.ra_used; }

long fz_open(const char *path, int flags) { return tzposix_open(path, flags); }
long fz_close(int fd) { return tzposix_close(fd); }
long fz_read(int fd, uint8_t *buf, size_t n) { return (long)tzposix_read(fd, buf, n); }
long fz_write(int fd, const uint8_t *buf, size_t n) { return (long)tzposix_write(fd, buf, n); }
long fz_socket(int domain, int type) { return tzposix_socket(domain, type, 0); }

long fz_recv(int fd, uint8_t *buf, size_t n, int flags)
{
	return (long)tzposix_recv(fd, buf, n, flags);
}

long fz_accept(int fd, uint8_t *addr, uint32_t *alen)
{
	socklen_t l = *alen;
	long r = tzposix_accept(fd, (struct sockaddr *)(void *)addr, &l);

	*alen = l;
	return r;
}

long fz_recvfrom(int fd, uint8_t *buf, size_t n, int flags, uint8_t *addr, uint32_t *alen)
{
	socklen_t l = *alen;
	long r = (long)tzposix_recvfrom(fd, buf, n, flags, (struct sockaddr *)(void *)addr, &l);

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

int fz_next_readahead(const uint8_t *b, size_t n, int64_t *out)
{
	struct tzp_readahead r;
	int v = tzp_next_readahead(b, n, &r);

	if (v == 0) {
		out[0] = r.index;
		out[1] = r.err;
		out[2] = r.addr_len;
		out[3] = r.len;
	}
	return v;
}
