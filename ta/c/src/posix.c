/*
 * posix.c - the POSIX calls of libtzposix over the tzrpc mailbox.
 *
 * Each call checks its arguments, writes its payload and header into the
 * mailbox, hands it to the shadow (proc->exchange) and takes the response
 * with tzp_take_response, which checks it completely (protocol section
 * 7.2) before anything of it is used. On top of that this file checks what
 * only the library knows: a new descriptor must not be one the TA already
 * has, and a blocking write must make progress. Any violation reaches TA
 * code as EIO and is counted; nothing of the response is used.
 *
 * Data is copied straight from the mailbox (its length comes from the
 * checked header copy and is at most what was asked); addresses and POLL
 * entries are read only from the private copies the check was made on.
 *
 * Read-ahead (TZPOSIX_READAHEAD_BYTES > 0): a poll that asks for POLLIN
 * gives the shadow a budget, and what the shadow read ahead comes back as
 * records after the entries. tzp_take_response copies them into the free
 * end of the session's pool and checks them there; tzp_proc keeps them in
 * that pool, by descriptor, and the next reads of the descriptor are
 * served from them without a RESUME.
 */
#include "proc.h"

struct tzp_proc *tzp_proc_current;

static int no_session_errno;

/* The protocol's numbers are posix.h's: checked here at compile time. */
#define TZP_SAME(a, b) typedef char tzp_same_##a[((a) == (b)) ? 1 : -1]
TZP_SAME(O_NONBLOCK, TZP_O_NONBLOCK);
TZP_SAME(O_APPEND, TZP_O_APPEND);
TZP_SAME(O_ACCMODE, TZP_O_ACCMODE);
TZP_SAME(SOCK_STREAM, TZP_SOCK_STREAM);
TZP_SAME(SOCK_DGRAM, TZP_SOCK_DGRAM);
TZP_SAME(SOCK_NONBLOCK, TZP_SOCK_NONBLOCK);
TZP_SAME(MSG_DONTWAIT, TZP_MSG_DONTWAIT);
TZP_SAME(POLLNVAL, TZP_POLLNVAL);
TZP_SAME(POLLIN, TZP_POLLIN);
TZP_SAME(EAGAIN, 11);
TZP_SAME(ECANCELED, 125);

static void copy_bytes(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
}

int *tzposix_errno_location(void)
{
	return tzp_proc_current ? &tzp_proc_current->err : &no_session_errno;
}

static int fail(struct tzp_proc *p, int e)
{
	if (p)
		p->err = e;
	else
		no_session_errno = e;
	return -1;
}

static struct tzp_proc *cur(void)
{
	struct tzp_proc *p = tzp_proc_current;

	if (p == NULL)
		no_session_errno = ECANCELED;
	return p;
}

static int violation(struct tzp_proc *p, int rule)
{
	p->violations++;
	p->last_violation = rule;
	if (p->violated)
		p->violated(p, rule);
	return fail(p, EIO);
}

void tzp_proc_init(struct tzp_proc *p, size_t mbsize, struct tzp_fdslot *fds,
		   uint32_t fd_cap, uint8_t *poll_req, uint8_t *priv, uint8_t *ra_pool)
{
	uint32_t i;

	p->mb = NULL;
	p->mbsize = mbsize;
	p->cap = mbsize - TZP_HEADER_SIZE;
	p->exchange = NULL;
	p->violated = NULL;
	p->owner = NULL;
	p->seq = 0;
	p->err = 0;
	p->closed = 0;
	p->violations = 0;
	p->last_violation = 0;
	p->fds = fds;
	p->fd_cap = fd_cap;
	p->fd_max = fd_cap / 2;
	p->fd_count = 0;
	for (i = 0; i < fd_cap; i++)
		fds[i].fd = -1;
	p->poll_req = poll_req;
	p->priv = priv;
	p->ra_pool = ra_pool;
	p->ra_used = 0;
	p->ra_live = 0;
	p->ra_off = TZP_RA_POOL_SIZE == 0 || ra_pool == NULL;
}

/* ---- Descriptor table ---------------------------------------------- */

static uint32_t fd_home(const struct tzp_proc *p, int32_t fd)
{
	return ((uint32_t)fd * 0x9E3779B1u) & (p->fd_cap - 1);
}

static struct tzp_fdslot *fd_find(struct tzp_proc *p, int fd)
{
	uint32_t i, n;

	if (fd < 0 || fd >= TZP_FD_LIMIT || p->fd_cap == 0)
		return NULL;
	for (i = fd_home(p, fd), n = 0; n < p->fd_cap; i = (i + 1) & (p->fd_cap - 1), n++) {
		if (p->fds[i].fd == fd)
			return &p->fds[i];
		if (p->fds[i].fd < 0)
			return NULL;
	}
	return NULL;
}

static int fd_add(struct tzp_proc *p, int32_t fd, uint8_t kind, uint8_t status)
{
	uint32_t i;

	if (p->fd_count >= p->fd_max)
		return -1;
	for (i = fd_home(p, fd); p->fds[i].fd >= 0; i = (i + 1) & (p->fd_cap - 1))
		;
	p->fds[i].fd = fd;
	p->fds[i].kind = kind;
	p->fds[i].status = status;
	p->fd_count++;
	return 0;
}

/* fd_del empties slot s, moving later entries of its probe run back so
 * that lookups never stop early at the hole. */
static void fd_del(struct tzp_proc *p, struct tzp_fdslot *s)
{
	uint32_t mask = p->fd_cap - 1, i = (uint32_t)(s - p->fds), j = i, k;

	p->fds[i].fd = -1;
	p->fd_count--;
	for (;;) {
		j = (j + 1) & mask;
		if (p->fds[j].fd < 0)
			return;
		k = fd_home(p, p->fds[j].fd);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		p->fds[i] = p->fds[j];
		p->fds[j].fd = -1;
		i = j;
	}
}

/* ---- Round trip ----------------------------------------------------- */

/* roundtrip sends req, whose payload_len bytes of payload the caller has
 * already put at mb + 64, and takes the response, accepting at most
 * max_len payload bytes. 0: success, *resp checked. -1: errno set (the
 * shadow's errno, EIO for a violation, ECANCELED once the session is
 * gone). POLL read-ahead records go to ra (ra_cap bytes). */
static int roundtrip_ra(struct tzp_proc *p, struct tzp_request *req, size_t max_len,
			uint8_t *ra, size_t ra_cap, struct tzp_response *resp)
{
	int v;

	if (p->closed || p->mb == NULL || p->exchange == NULL)
		return fail(p, ECANCELED);
	req->seq = p->seq++;
	if (tzp_encode_request_header(p->mb, p->mbsize, req) != 0)
		return fail(p, EIO);
	if (p->exchange(p) != 0 || p->mb == NULL) {
		p->closed = 1;
		return fail(p, ECANCELED);
	}
	v = tzp_take_response(p->mb, p->mbsize, req, max_len, p->priv, TZP_PRIV_SIZE, ra, ra_cap,
			      resp);
	if (v != TZP_OK)
		return violation(p, v);
	if (resp->err != 0)
		return fail(p, (int)resp->err);
	return 0;
}

static int roundtrip(struct tzp_proc *p, struct tzp_request *req, size_t max_len,
		     struct tzp_response *resp)
{
	return roundtrip_ra(p, req, max_len, NULL, 0, resp);
}

static void request(struct tzp_request *req, uint16_t op, int64_t a0, int64_t a1, int64_t a2)
{
	int i;

	req->op = op;
	req->seq = 0;
	req->args[0] = a0;
	req->args[1] = a1;
	req->args[2] = a2;
	for (i = 3; i < 6; i++)
		req->args[i] = 0;
	req->payload_len = 0;
	req->payload = NULL;
}

/* simple performs a request whose only result is ret. */
static int64_t simple(struct tzp_proc *p, struct tzp_request *req)
{
	struct tzp_response resp;

	if (roundtrip(p, req, 0, &resp) != 0)
		return -1;
	return resp.ret;
}

/* new_fd records a descriptor the shadow handed out. One the TA already
 * has would make two of its descriptors one: a violation. With the table
 * full the descriptor is closed again and the call fails EMFILE. */
static int new_fd(struct tzp_proc *p, int64_t ret, uint8_t kind, uint8_t status)
{
	struct tzp_request req;

	if (fd_find(p, (int)ret) != NULL)
		return violation(p, TZP_V_FD);
	if (fd_add(p, (int32_t)ret, kind, status) != 0) {
		request(&req, TZP_OP_CLOSE, ret, 0, 0);
		(void)simple(p, &req);
		return fail(p, EMFILE);
	}
	return (int)ret;
}

static int known(struct tzp_proc *p, int fd, struct tzp_fdslot **s)
{
	*s = fd_find(p, fd);
	return *s ? 0 : fail(p, EBADF);
}

/* path_len measures a path for a request: 1..4095 bytes that fit. */
static int path_len(struct tzp_proc *p, const char *path, size_t room, size_t *n)
{
	size_t i;

	if (path == NULL)
		return fail(p, EFAULT);
	for (i = 0; i <= TZP_MAX_PATH && path[i] != 0; i++)
		;
	if (i == 0)
		return fail(p, ENOENT);
	if (i > TZP_MAX_PATH || i > room)
		return fail(p, ENAMETOOLONG);
	*n = i;
	return 0;
}

/* ---- Files ---------------------------------------------------------- */

int tzposix_open(const char *path, int flags, ...)
{
	struct tzp_proc *p = cur();
	struct tzp_request req;
	unsigned int mode = 0;
	size_t n;
	int64_t fd;
	uint8_t status = 0;

	if (p == NULL)
		return -1;
	if (flags & O_CREAT) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, unsigned int);
		va_end(ap);
	}
	if (path_len(p, path, p->cap, &n) != 0)
		return -1;
	copy_bytes(p->mb + TZP_HEADER_SIZE, path, n);
	request(&req, TZP_OP_OPEN, flags, mode, 0);
	req.payload_len = (uint32_t)n;
	if ((fd = simple(p, &req)) < 0)
		return -1;
	if (flags & O_NONBLOCK)
		status |= TZP_FD_NONBLOCK;
	if (flags & O_APPEND)
		status |= TZP_FD_APPEND;
	return new_fd(p, fd, TZP_FD_FILE, status);
}

#if TZPOSIX_READAHEAD_BYTES > 0
static void ra_drop(struct tzp_proc *p, int32_t fd);
#endif

int tzposix_close(int fd)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	/* Gone whatever the shadow says, as with close(2) on Linux; so is
	 * what was read ahead for it and not read. */
	fd_del(p, s);
#if TZPOSIX_READAHEAD_BYTES > 0
	ra_drop(p, fd);
#endif
	request(&req, TZP_OP_CLOSE, fd, 0, 0);
	return simple(p, &req) < 0 ? -1 : 0;
}

static int path_op(uint16_t op, const char *path, int64_t arg)
{
	struct tzp_proc *p = cur();
	struct tzp_request req;
	size_t n;

	if (p == NULL || path_len(p, path, p->cap, &n) != 0)
		return -1;
	copy_bytes(p->mb + TZP_HEADER_SIZE, path, n);
	request(&req, op, arg, 0, 0);
	req.payload_len = (uint32_t)n;
	return simple(p, &req) < 0 ? -1 : 0;
}

int tzposix_mkfifo(const char *path, mode_t mode) { return path_op(TZP_OP_MKFIFO, path, mode); }
int tzposix_mkdir(const char *path, mode_t mode) { return path_op(TZP_OP_MKDIR, path, mode); }
int tzposix_unlink(const char *path) { return path_op(TZP_OP_UNLINK, path, 0); }
int tzposix_rmdir(const char *path) { return path_op(TZP_OP_RMDIR, path, 0); }

int tzposix_rename(const char *oldpath, const char *newpath)
{
	struct tzp_proc *p = cur();
	struct tzp_request req;
	size_t n1, n2;

	if (p == NULL || path_len(p, oldpath, p->cap, &n1) != 0 ||
	    path_len(p, newpath, p->cap - n1, &n2) != 0)
		return -1;
	copy_bytes(p->mb + TZP_HEADER_SIZE, oldpath, n1);
	copy_bytes(p->mb + TZP_HEADER_SIZE + n1, newpath, n2);
	request(&req, TZP_OP_RENAME, (int64_t)n1, 0, 0);
	req.payload_len = (uint32_t)(n1 + n2);
	return simple(p, &req) < 0 ? -1 : 0;
}

int tzposix_fcntl(int fd, int cmd, ...)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	int64_t r;
	int flags;
	va_list ap;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	switch (cmd) {
	case F_GETFL:
		request(&req, TZP_OP_FCNTL, fd, TZP_F_GETFL, 0);
		if ((r = simple(p, &req)) < 0)
			return -1;
		return (int)r;
	case F_SETFL:
		va_start(ap, cmd);
		flags = va_arg(ap, int);
		va_end(ap);
		request(&req, TZP_OP_FCNTL, fd, TZP_F_SETFL, flags);
		if (simple(p, &req) < 0)
			return -1;
		/* The call may have switched coroutines: find the slot again. */
		if ((s = fd_find(p, fd)) != NULL)
			s->status = (uint8_t)(((flags & O_NONBLOCK) ? TZP_FD_NONBLOCK : 0) |
					      ((flags & O_APPEND) ? TZP_FD_APPEND : 0));
		return 0;
	default:
		break;
	}
	return fail(p, EINVAL);
}

/* ---- Reads ---------------------------------------------------------- */

/* read_call is a READ or RECV of fd in the shadow, into buf. */
static ssize_t read_call(struct tzp_proc *p, uint16_t op, int fd, void *buf, size_t count,
			 int flags)
{
	struct tzp_request req;
	struct tzp_response resp;
	size_t n;

	n = count < p->cap ? count : p->cap;
	request(&req, op, fd, (int64_t)n, op == TZP_OP_RECV ? flags : 0);
	if (roundtrip(p, &req, n, &resp) != 0)
		return -1;
	/* Checked: ret == payload_len <= n <= count. */
	copy_bytes(buf, p->mb + TZP_HEADER_SIZE, (size_t)resp.ret);
	return (ssize_t)resp.ret;
}

static int from_wire(struct tzp_proc *p, const uint8_t *b, size_t n, struct sockaddr *addr,
		     socklen_t *len);

#if TZPOSIX_READAHEAD_BYTES > 0
/* ---- Read-ahead ----------------------------------------------------- */

static size_t seg_size(const uint8_t *s)
{
	return TZP_RA_SEG_HDR + (size_t)tzp_get16(s + 6) + (size_t)tzp_get32(s + 8);
}

/* ra_find returns fd's first kept record after s (NULL: from the start of
 * the pool), or NULL if it has none. */
static uint8_t *ra_find(struct tzp_proc *p, int32_t fd, uint8_t *s)
{
	uint8_t *end = p->ra_pool + p->ra_used;

	for (s = s ? s + seg_size(s) : p->ra_pool; s < end; s += seg_size(s))
		if ((int32_t)tzp_get32(s) == fd)
			return s;
	return NULL;
}

/* ra_consume marks a record read; the pool is empty again with the last. */
static void ra_consume(struct tzp_proc *p, uint8_t *s)
{
	tzp_put32(s, (uint32_t)-1);
	if (--p->ra_live == 0)
		p->ra_used = 0;
}

static void ra_drop(struct tzp_proc *p, int32_t fd)
{
	uint8_t *s;

	while ((s = ra_find(p, fd, NULL)) != NULL)
		ra_consume(p, s);
}

/* ra_compact moves the records not yet read to the start of the pool. */
static void ra_compact(struct tzp_proc *p)
{
	uint8_t *s = p->ra_pool, *end = p->ra_pool + p->ra_used, *out = p->ra_pool;
	size_t n;

	for (; s < end; s += n) {
		n = seg_size(s);
		if ((int32_t)tzp_get32(s) < 0)
			continue;
		if (out != s)
			copy_bytes(out, s, n); /* forward, out < s */
		out += n;
	}
	p->ra_used = (size_t)(out - p->ra_pool);
}

/* ra_budget is the read-ahead budget for a poll of size bytes of entries,
 * n_in of them asking for POLLIN (n_dg of those datagram sockets): what
 * the pool has free, less room for each record's header (and the 4 bytes
 * a kept one takes more) and sender, at most TZPOSIX_READAHEAD_BYTES, and
 * what the mailbox carries besides. *ra and *ra_cap: where
 * tzp_take_response puts the records, 4 * n_in bytes into the free room
 * so that ra_keep can widen their headers in place. */
static int64_t ra_budget(struct tzp_proc *p, size_t size, size_t n_in, size_t n_dg,
			 uint8_t **ra, size_t *ra_cap)
{
	size_t room, need, b;

	ra_compact(p);
	room = TZP_RA_POOL_SIZE - p->ra_used;
	need = n_in * (TZP_READAHEAD_HDR + 4) + n_dg * TZP_MAX_SOCKADDR;
	if (room <= need)
		return 0;
	b = room - need;
	if (b > (size_t)TZPOSIX_READAHEAD_BYTES)
		b = (size_t)TZPOSIX_READAHEAD_BYTES;
	need = size + n_in * TZP_READAHEAD_HDR + n_dg * TZP_MAX_SOCKADDR;
	if (p->cap <= need)
		return 0;
	if (b > p->cap - need)
		b = p->cap - need;
	*ra = p->ra_pool + p->ra_used + 4 * n_in;
	*ra_cap = room - 4 * n_in;
	return (int64_t)b;
}

/* ra_failed_before reports whether one of the first k records in b (n
 * bytes) carries an errno for descriptor fd. */
static int ra_failed_before(struct tzp_proc *p, const uint8_t *b, size_t n, int64_t k, int32_t fd)
{
	struct tzp_readahead rec;
	size_t body;

	for (; k > 0 && tzp_next_readahead(b, n, &rec) == 0; k--) {
		if (rec.err != 0 && (int32_t)tzp_get32(p->poll_req + (size_t)rec.index * TZP_POLLFD_SIZE) == fd)
			return 1;
		body = TZP_READAHEAD_HDR + (size_t)rec.addr_len + rec.len;
		b += body;
		n -= body;
	}
	return 0;
}

/* ra_keep keeps the nrec records of a checked POLL response, which
 * tzp_take_response copied to in (n bytes, 4 * n_in bytes past the end of
 * the kept ones). First what only the library knows: a record carries a
 * sender exactly when its descriptor is a datagram socket, and none
 * follows an errno record for the same descriptor; a record that breaks
 * that is a violation, and none of the records is kept. */
static int ra_keep(struct tzp_proc *p, int64_t nrec, size_t n_in, uint8_t *in, size_t n)
{
	struct tzp_readahead rec;
	struct tzp_fdslot *s;
	uint8_t *b = in, *out;
	size_t left = n, body;
	int64_t k;
	int32_t fd;

	if (nrec < 0 || (uint64_t)nrec > n_in)
		return violation(p, TZP_V_READAHEAD); /* checked: cannot happen */
	for (k = 0; k < nrec; k++) {
		if (tzp_next_readahead(b, left, &rec) != 0)
			return violation(p, TZP_V_READAHEAD); /* checked: cannot happen */
		fd = (int32_t)tzp_get32(p->poll_req + (size_t)rec.index * TZP_POLLFD_SIZE);
		s = fd_find(p, fd);
		if (s == NULL || (rec.err == 0 && (s->kind == TZP_FD_DGRAM) != (rec.addr_len > 0)) ||
		    ra_failed_before(p, in, n, k, fd))
			return violation(p, TZP_V_READAHEAD);
		body = TZP_READAHEAD_HDR + (size_t)rec.addr_len + rec.len;
		b += body;
		left -= body;
	}
	/* Each record moves down behind the kept ones, its header widened by
	 * 4 bytes: record k starts 4 * (n_in - k) >= 4 bytes after where it
	 * goes, so the forward copy never overwrites what it has yet to read. */
	out = p->ra_pool + p->ra_used;
	for (b = in, left = n, k = 0; k < nrec; k++) {
		(void)tzp_next_readahead(b, left, &rec);
		fd = (int32_t)tzp_get32(p->poll_req + (size_t)rec.index * TZP_POLLFD_SIZE);
		body = (size_t)rec.addr_len + rec.len;
		copy_bytes(out + TZP_RA_SEG_HDR, b + TZP_READAHEAD_HDR, body);
		tzp_put32(out, (uint32_t)fd);
		tzp_put16(out + 4, rec.err);
		tzp_put16(out + 6, rec.addr_len);
		tzp_put32(out + 8, rec.len);
		tzp_put32(out + 12, 0);
		out += TZP_RA_SEG_HDR + body;
		b += TZP_READAHEAD_HDR + body;
		left -= TZP_READAHEAD_HDR + body;
		p->ra_live++;
	}
	p->ra_used = (size_t)(out - p->ra_pool);
	return 0;
}

/* ra_read serves a read of fd from what was read ahead, if anything waits
 * (1, *res its result; 0: nothing does): up to len bytes (left in place
 * with MSG_PEEK), or the error the shadow's read met. With MSG_WAITALL it
 * then asks the shadow for the rest, as recv(2) would wait for it, and
 * reports what came if that fails. On a datagram socket it takes one
 * datagram, truncated to buf as recvfrom(2) truncates, and reports its
 * sender; on anything else, no sender. */
static int ra_read(struct tzp_proc *p, int fd, uint8_t *buf, size_t len, int flags,
		   struct sockaddr *from, socklen_t *fromlen, ssize_t *res)
{
	uint8_t *s = ra_find(p, fd, NULL), *next;
	size_t n = 0, take, alen, dlen, off;
	ssize_t more;
	int err;

	if (s == NULL)
		return 0;
	alen = tzp_get16(s + 6);
	dlen = tzp_get32(s + 8);
	if ((err = tzp_get16(s + 4)) != 0) {
		ra_consume(p, s);
		*res = fail(p, err);
		return 1;
	}
	if (alen > 0) {
		n = dlen < len ? dlen : len;
		copy_bytes(buf, s + TZP_RA_SEG_HDR + alen, n);
		if (from_wire(p, s + TZP_RA_SEG_HDR, alen, from, fromlen) != 0) {
			*res = -1;
			return 1;
		}
		if (!(flags & MSG_PEEK))
			ra_consume(p, s);
		*res = (ssize_t)n;
		return 1;
	}
	/* Stream or FIFO bytes, in order: a descriptor polled in two entries
	 * may have two records. */
	for (; s != NULL && n < len && tzp_get16(s + 4) == 0 && tzp_get16(s + 6) == 0; s = next) {
		dlen = tzp_get32(s + 8);
		off = tzp_get32(s + 12);
		take = dlen - off < len - n ? dlen - off : len - n;
		copy_bytes(buf + n, s + TZP_RA_SEG_HDR + off, take);
		n += take;
		next = ra_find(p, fd, s);
		if (flags & MSG_PEEK)
			continue;
		if (off + take == dlen)
			ra_consume(p, s);
		else
			tzp_put32(s + 12, (uint32_t)(off + take));
	}
	(void)from_wire(p, NULL, 0, from, fromlen);
	if (n < len && (flags & MSG_WAITALL) && !(flags & MSG_PEEK)) {
		err = p->err;
		more = read_call(p, TZP_OP_RECV, fd, buf + n, len - n, flags);
		if (more > 0)
			n += (size_t)more;
		p->err = err;
	}
	*res = (ssize_t)n;
	return 1;
}
#endif /* TZPOSIX_READAHEAD_BYTES > 0 */

static ssize_t do_read(uint16_t op, int fd, void *buf, size_t count, int flags)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
#if TZPOSIX_READAHEAD_BYTES > 0
	ssize_t r;
#endif

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	if (buf == NULL && count > 0)
		return fail(p, EFAULT);
#if TZPOSIX_READAHEAD_BYTES > 0
	if (ra_read(p, fd, buf, count, flags, NULL, NULL, &r))
		return r;
#endif
	return read_call(p, op, fd, buf, count, flags);
}

ssize_t tzposix_read(int fd, void *buf, size_t count)
{
	return do_read(TZP_OP_READ, fd, buf, count, 0);
}

ssize_t tzposix_recv(int fd, void *buf, size_t len, int flags)
{
	return do_read(TZP_OP_RECV, fd, buf, len, flags);
}

/* ---- Addresses ------------------------------------------------------ */

/* to_wire encodes a struct sockaddr for BIND, CONNECT and SENDTO. */
static int to_wire(struct tzp_proc *p, const struct sockaddr *sa, socklen_t len, uint8_t *b,
		   size_t *n)
{
	struct tzp_sockaddr w;
	sa_family_t fam;
	size_t i, max;

	if (sa == NULL)
		return fail(p, EFAULT);
	if (len < sizeof(sa_family_t))
		return fail(p, EINVAL);
	copy_bytes(&fam, &sa->sa_family, sizeof(fam));
	for (i = 0; i < sizeof(w.addr); i++)
		w.addr[i] = 0;
	w.scope = 0;
	w.path_len = 0;
	switch (fam) {
	case AF_INET: {
		struct sockaddr_in in;

		if (len < sizeof(in))
			return fail(p, EINVAL);
		copy_bytes(&in, sa, sizeof(in));
		w.family = TZP_FAMILY_INET;
		w.port = tzposix_htons(in.sin_port);
		copy_bytes(w.addr, &in.sin_addr.s_addr, 4);
		break;
	}
	case AF_INET6: {
		struct sockaddr_in6 in6;

		if (len < sizeof(in6))
			return fail(p, EINVAL);
		copy_bytes(&in6, sa, sizeof(in6));
		w.family = TZP_FAMILY_INET6;
		w.port = tzposix_htons(in6.sin6_port);
		copy_bytes(w.addr, in6.sin6_addr.s6_addr, 16);
		w.scope = in6.sin6_scope_id;
		break;
	}
	case AF_UNIX: {
		const char *path = (const char *)sa + offsetof(struct sockaddr_un, sun_path);

		w.family = TZP_FAMILY_UNIX;
		max = len - offsetof(struct sockaddr_un, sun_path);
		if (max > TZPOSIX_UNIX_PATH_MAX)
			max = TZPOSIX_UNIX_PATH_MAX;
		if (max > 0 && path[0] == 0)
			return fail(p, EINVAL); /* abstract: not representable */
		for (i = 0; i < max && path[i] != 0; i++)
			;
		if (i > TZP_MAX_UNIX_PATH)
			return fail(p, EINVAL);
		copy_bytes(w.path, path, i);
		w.path_len = (uint16_t)i;
		break;
	}
	default:
		return fail(p, EAFNOSUPPORT);
	}
	*n = tzp_encode_sockaddr(&w, b);
	return *n ? 0 : fail(p, EINVAL);
}

/* from_wire turns a checked sockaddr (b[0..n), in private memory) into a
 * struct sockaddr, truncated to *len as the calls do; addr may be NULL. */
static int from_wire(struct tzp_proc *p, const uint8_t *b, size_t n, struct sockaddr *addr,
		     socklen_t *len)
{
	struct tzp_sockaddr w;
	union {
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_un un;
	} u;
	size_t i, full;

	if (addr == NULL || len == NULL)
		return 0;
	if (n == 0) {
		*len = 0;
		return 0;
	}
	/* Parsed before, by the check; parsing again cannot fail. */
	if (tzp_parse_sockaddr(b, n, &w) != 0)
		return violation(p, TZP_V_SOCKADDR);
	for (i = 0; i < sizeof(u); i++)
		((uint8_t *)&u)[i] = 0;
	switch (w.family) {
	case TZP_FAMILY_INET:
		u.in.sin_family = AF_INET;
		u.in.sin_port = tzposix_htons(w.port);
		copy_bytes(&u.in.sin_addr.s_addr, w.addr, 4);
		full = sizeof(u.in);
		break;
	case TZP_FAMILY_INET6:
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = tzposix_htons(w.port);
		copy_bytes(u.in6.sin6_addr.s6_addr, w.addr, 16);
		u.in6.sin6_scope_id = w.scope;
		full = sizeof(u.in6);
		break;
	default:
		u.un.sun_family = AF_UNIX;
		copy_bytes(u.un.sun_path, w.path, w.path_len);
		/* Linux's length: family, path and its terminator; just the
		 * family for an unnamed socket. */
		full = offsetof(struct sockaddr_un, sun_path) + w.path_len + (w.path_len ? 1 : 0);
		break;
	}
	copy_bytes(addr, &u, full < *len ? full : *len);
	*len = (socklen_t)full;
	return 0;
}

/* ---- Writes --------------------------------------------------------- */

static ssize_t do_write(uint16_t op, int fd, const void *buf, size_t len, int flags,
			const struct sockaddr *to, socklen_t tolen)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	uint8_t addr[TZP_MAX_SOCKADDR];
	size_t alen = 0, room, done = 0, chunk;
	int64_t ret;
	int blocking, dgram;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	if (buf == NULL && len > 0)
		return fail(p, EFAULT);
	if (op == TZP_OP_SENDTO && to != NULL && to_wire(p, to, tolen, addr, &alen) != 0)
		return -1;
	room = p->cap - alen;
	dgram = s->kind == TZP_FD_DGRAM;
	if (dgram && len > room)
		return fail(p, EMSGSIZE);
	blocking = !(s->status & TZP_FD_NONBLOCK) && !(flags & MSG_DONTWAIT) && !dgram;
	for (;;) {
		chunk = len - done < room ? len - done : room;
		copy_bytes(p->mb + TZP_HEADER_SIZE, addr, alen);
		copy_bytes(p->mb + TZP_HEADER_SIZE + alen, (const uint8_t *)buf + done, chunk);
		request(&req, op, fd, 0, 0);
		if (op == TZP_OP_SEND)
			req.args[1] = flags;
		else if (op == TZP_OP_SENDTO) {
			req.args[1] = flags;
			req.args[2] = (int64_t)alen;
		}
		req.payload_len = (uint32_t)(alen + chunk);
		if ((ret = simple(p, &req)) < 0)
			return done > 0 ? (ssize_t)done : -1;
		done += (size_t)ret;
		if (done == len || !blocking)
			return (ssize_t)done;
		if (ret == 0) {
			/* A blocking write waits until it can move something;
			 * taking zero for progress would loop forever. */
			violation(p, TZP_V_COUNT);
			return done > 0 ? (ssize_t)done : -1;
		}
	}
}

ssize_t tzposix_write(int fd, const void *buf, size_t count)
{
	return do_write(TZP_OP_WRITE, fd, buf, count, 0, NULL, 0);
}

ssize_t tzposix_send(int fd, const void *buf, size_t len, int flags)
{
	return do_write(TZP_OP_SEND, fd, buf, len, flags, NULL, 0);
}

ssize_t tzposix_sendto(int fd, const void *buf, size_t len, int flags,
		       const struct sockaddr *to, socklen_t tolen)
{
	return do_write(TZP_OP_SENDTO, fd, buf, len, flags, to, tolen);
}

ssize_t tzposix_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
			 socklen_t *fromlen)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	struct tzp_response resp;
	size_t n, alen;
#if TZPOSIX_READAHEAD_BYTES > 0
	ssize_t r;
#endif

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	if (buf == NULL && len > 0)
		return fail(p, EFAULT);
#if TZPOSIX_READAHEAD_BYTES > 0
	if (ra_read(p, fd, buf, len, flags, from, fromlen, &r))
		return r;
#endif
	n = p->cap - TZP_MAX_SOCKADDR;
	if (len < n)
		n = len;
	request(&req, TZP_OP_RECVFROM, fd, (int64_t)n, flags);
	if (roundtrip(p, &req, n + TZP_MAX_SOCKADDR, &resp) != 0)
		return -1;
	/* Checked: aux0 <= 113 bytes, copied to priv and parsed there;
	 * ret = payload_len - aux0 <= n. */
	alen = (size_t)resp.aux[0];
	copy_bytes(buf, p->mb + TZP_HEADER_SIZE + alen, (size_t)resp.ret);
	if (from_wire(p, p->priv, alen, from, fromlen) != 0)
		return -1;
	return (ssize_t)resp.ret;
}

/* ---- Sockets -------------------------------------------------------- */

int tzposix_socket(int domain, int type, int protocol)
{
	struct tzp_proc *p = cur();
	struct tzp_request req;
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
	int64_t fd;

	if (p == NULL)
		return -1;
	if (protocol != 0 &&
	    !(protocol == IPPROTO_TCP && base == SOCK_STREAM && domain != AF_UNIX) &&
	    !(protocol == IPPROTO_UDP && base == SOCK_DGRAM && domain != AF_UNIX))
		return fail(p, EPROTONOSUPPORT);
	request(&req, TZP_OP_SOCKET, domain, base, flags);
	if ((fd = simple(p, &req)) < 0)
		return -1;
	return new_fd(p, fd, base == SOCK_DGRAM ? TZP_FD_DGRAM : TZP_FD_STREAM,
		      (flags & SOCK_NONBLOCK) ? TZP_FD_NONBLOCK : 0);
}

static int addr_op(uint16_t op, int fd, const struct sockaddr *addr, socklen_t len)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	size_t n;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	if (to_wire(p, addr, len, p->mb + TZP_HEADER_SIZE, &n) != 0)
		return -1;
	request(&req, op, fd, 0, 0);
	req.payload_len = (uint32_t)n;
	return simple(p, &req) < 0 ? -1 : 0;
}

int tzposix_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return addr_op(TZP_OP_BIND, fd, addr, len);
}

int tzposix_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return addr_op(TZP_OP_CONNECT, fd, addr, len);
}

static int fd_op(uint16_t op, int fd, int64_t a1)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	request(&req, op, fd, a1, 0);
	return simple(p, &req) < 0 ? -1 : 0;
}

int tzposix_listen(int fd, int backlog)
{
	/* Clamped as the kernel clamps to somaxconn. */
	if (backlog < 0 || backlog > TZP_MAX_BACKLOG)
		backlog = TZP_MAX_BACKLOG;
	return fd_op(TZP_OP_LISTEN, fd, backlog);
}

int tzposix_shutdown(int fd, int how)
{
	return fd_op(TZP_OP_SHUTDOWN, fd, how);
}

int tzposix_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	struct tzp_response resp;
	int nfd;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	request(&req, TZP_OP_ACCEPT, fd, flags, 0);
	if (roundtrip(p, &req, TZP_MAX_SOCKADDR, &resp) != 0)
		return -1;
	if ((nfd = new_fd(p, resp.ret, TZP_FD_STREAM,
			  (flags & SOCK_NONBLOCK) ? TZP_FD_NONBLOCK : 0)) < 0)
		return -1;
	if (from_wire(p, p->priv, resp.payload_len, addr, len) != 0)
		return -1;
	return nfd;
}

int tzposix_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return tzposix_accept4(fd, addr, len, 0);
}

static int name_op(uint16_t op, int fd, struct sockaddr *addr, socklen_t *len)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	struct tzp_response resp;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	if (addr == NULL || len == NULL)
		return fail(p, EFAULT);
	request(&req, op, fd, 0, 0);
	if (roundtrip(p, &req, TZP_MAX_SOCKADDR, &resp) != 0)
		return -1;
	return from_wire(p, p->priv, resp.payload_len, addr, len);
}

int tzposix_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	return name_op(TZP_OP_GETSOCKNAME, fd, addr, len);
}

int tzposix_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	return name_op(TZP_OP_GETPEERNAME, fd, addr, len);
}

/* sockopt maps a (level, option) pair onto the protocol's option. */
static int sockopt(int level, int opt)
{
	if (level == SOL_SOCKET) {
		switch (opt) {
		case SO_REUSEADDR:
			return TZP_SO_REUSEADDR;
		case SO_KEEPALIVE:
			return TZP_SO_KEEPALIVE;
		case SO_RCVBUF:
			return TZP_SO_RCVBUF;
		case SO_SNDBUF:
			return TZP_SO_SNDBUF;
		case SO_ERROR:
			return TZP_SO_ERROR;
		case SO_TYPE:
			return TZP_SO_TYPE;
		case SO_BROADCAST:
			return TZP_SO_BROADCAST;
		case SO_REUSEPORT:
			return TZP_SO_REUSEPORT;
		default:
			break;
		}
	} else if (level == IPPROTO_TCP && opt == TCP_NODELAY) {
		return TZP_TCP_NODELAY;
	}
	return 0;
}

int tzposix_setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	int o = sockopt(level, opt), v;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	if (o == 0)
		return fail(p, ENOPROTOOPT);
	if (val == NULL)
		return fail(p, EFAULT);
	if (len < sizeof(int))
		return fail(p, EINVAL);
	copy_bytes(&v, val, sizeof(v));
	request(&req, TZP_OP_SETSOCKOPT, fd, o, v);
	return simple(p, &req) < 0 ? -1 : 0;
}

int tzposix_getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	struct tzp_proc *p = cur();
	struct tzp_fdslot *s;
	struct tzp_request req;
	int o = sockopt(level, opt), v;
	int64_t r;

	if (p == NULL || known(p, fd, &s) != 0)
		return -1;
	if (o == 0)
		return fail(p, ENOPROTOOPT);
	if (val == NULL || len == NULL)
		return fail(p, EFAULT);
	if (*len < sizeof(int))
		return fail(p, EINVAL);
	request(&req, TZP_OP_GETSOCKOPT, fd, o, 0);
	if ((r = simple(p, &req)) < 0)
		return -1;
	/* Checked against the option: booleans 0/1, sizes <= INT32_MAX,
	 * SO_ERROR a protocol errno (the same numbers), SO_TYPE 1 or 2. */
	v = (int)r;
	copy_bytes(val, &v, sizeof(v));
	*len = sizeof(int);
	return 0;
}

/* ---- Poll ----------------------------------------------------------- */

int tzposix_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	struct tzp_proc *p = cur();
	struct tzp_request req;
	struct tzp_response resp;
	size_t size, max_len, i;
	uint8_t *ra = NULL;
	size_t ra_cap = 0;
	int64_t budget = 0;
	int local = 0, ready = 0;
#if TZPOSIX_READAHEAD_BYTES > 0
	struct tzp_fdslot *s;
	size_t n_in = 0, n_dg = 0;
#endif

	if (p == NULL)
		return -1;
	if (nfds > TZP_MAX_POLLFDS || nfds * TZP_POLLFD_SIZE > p->cap)
		return fail(p, EINVAL);
	if (fds == NULL && nfds > 0)
		return fail(p, EFAULT);
	size = nfds * TZP_POLLFD_SIZE;
	for (i = 0; i < nfds; i++) {
		int32_t fd = fds[i].fd;
		uint8_t *e = p->poll_req + i * TZP_POLLFD_SIZE;

		fds[i].revents = 0;
		if (fd >= 0 && fd_find(p, fd) == NULL) {
			/* Not the TA's: never shown to the shadow. */
			fds[i].revents = POLLNVAL;
			local++;
			fd = -1;
		}
#if TZPOSIX_READAHEAD_BYTES > 0
		else if (fd >= 0 && (fds[i].events & POLLIN)) {
			s = fd_find(p, fd);
			n_in++;
			if (s->kind == TZP_FD_DGRAM)
				n_dg++;
			if (ra_find(p, fd, NULL) != NULL) {
				/* Read ahead and not read yet: readable now. */
				fds[i].revents = POLLIN;
				local++;
			}
		}
#endif
		tzp_put32(e, (uint32_t)fd);
		tzp_put16(e + 4, (uint16_t)(fds[i].events & TZP_POLL_EVENTS));
		tzp_put16(e + 6, 0);
	}
	/* An event is there already: poll(2) returns at once, and reports the
	 * other entries as they are now. */
	if (local > 0 || timeout < 0)
		timeout = local > 0 ? 0 : -1;
#if TZPOSIX_READAHEAD_BYTES > 0
	if (local == 0 && n_in > 0 && !p->ra_off)
		budget = ra_budget(p, size, n_in, n_dg, &ra, &ra_cap);
#endif
	if (budget == 0) {
		ra = NULL;
		ra_cap = 0;
	}
	max_len = size + ra_cap;
	copy_bytes(p->mb + TZP_HEADER_SIZE, p->poll_req, size);
	request(&req, TZP_OP_POLL, (int64_t)nfds, timeout, budget);
	req.payload_len = (uint32_t)size;
	req.payload = p->poll_req;
	if (roundtrip_ra(p, &req, max_len, ra, ra_cap, &resp) != 0) {
#if TZPOSIX_READAHEAD_BYTES > 0
		if (budget == 0 || p->err != EINVAL)
			return -1;
		/* The request is valid, so only a shadow that predates
		 * read-ahead refuses it: poll as it knows how, from now on. */
		p->ra_off = 1;
		budget = 0;
		copy_bytes(p->mb + TZP_HEADER_SIZE, p->poll_req, size);
		req.args[2] = 0;
		if (roundtrip(p, &req, size, &resp) != 0)
			return -1;
#else
		return -1;
#endif
	}
#if TZPOSIX_READAHEAD_BYTES > 0
	if (budget > 0 && resp.aux[0] > 0 &&
	    ra_keep(p, resp.aux[0], n_in, ra, resp.payload_len - size) != 0)
		return -1;
#endif
	for (i = 0; i < nfds; i++) {
		fds[i].revents |= (short)tzp_get16(p->priv + i * TZP_POLLFD_SIZE + 6);
		if (fds[i].revents != 0)
			ready++;
	}
	return ready;
}

/* ---- Exit ----------------------------------------------------------- */

void tzp_proc_exit(struct tzp_proc *p, int status)
{
	struct tzp_request req;

	if (p->closed || p->mb == NULL)
		return;
	p->closed = 1;
	request(&req, TZP_OP_EXIT, status, 0, 0);
	req.seq = p->seq++;
	(void)tzp_encode_request_header(p->mb, p->mbsize, &req);
}
