/*
 * codec.c - the tzrpc wire format, TA side: request headers out, responses
 * in, sockaddrs both ways. Pure functions; see tzposix/codec.h.
 *
 * The checks are those of docs/protocol.md section 7.2, in the same terms
 * as the Go implementation (tzrpc.DecodeResponse and tzrpc.CheckResponse),
 * which ta/c/fuzz compares this code against.
 */
#include <tzposix/codec.h>

static void copy_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

int tzp_encode_request_header(uint8_t *mb, size_t mbsize, const struct tzp_request *req)
{
	int i;

	if (mbsize < TZP_HEADER_SIZE || req->op < TZP_OP_EXIT || req->op > TZP_OP_LAST)
		return -1;
	if (req->payload_len > mbsize - TZP_HEADER_SIZE)
		return -1;
	tzp_put32(mb, TZP_MAGIC_REQUEST);
	tzp_put16(mb + 4, TZP_VERSION);
	tzp_put16(mb + 6, req->op);
	tzp_put32(mb + 8, req->seq);
	tzp_put32(mb + 12, req->payload_len);
	for (i = 0; i < 6; i++)
		tzp_put64(mb + 16 + 8 * i, (uint64_t)req->args[i]);
	return 0;
}

int tzp_parse_sockaddr(const uint8_t *b, size_t n, struct tzp_sockaddr *sa)
{
	uint16_t fam, port, plen;
	size_t i;

	if (n < 4)
		return -1;
	fam = tzp_get16(b);
	port = tzp_get16(b + 2);
	for (i = 0; i < sizeof(sa->addr); i++)
		sa->addr[i] = 0;
	sa->family = fam;
	sa->port = port;
	sa->scope = 0;
	sa->path_len = 0;
	switch (fam) {
	case TZP_FAMILY_INET:
		if (n != TZP_SOCKADDR_INET_LEN)
			return -1;
		copy_bytes(sa->addr, b + 4, 4);
		return 0;
	case TZP_FAMILY_INET6:
		if (n != TZP_SOCKADDR_INET6_LEN)
			return -1;
		copy_bytes(sa->addr, b + 4, 16);
		sa->scope = tzp_get32(b + 20);
		return 0;
	case TZP_FAMILY_UNIX:
		if (n < TZP_SOCKADDR_UNIX_HDR || port != 0)
			return -1;
		plen = tzp_get16(b + 4);
		if (plen > TZP_MAX_UNIX_PATH || n != TZP_SOCKADDR_UNIX_HDR + (size_t)plen)
			return -1;
		for (i = 0; i < plen; i++) {
			if (b[TZP_SOCKADDR_UNIX_HDR + i] == 0)
				return -1;
			sa->path[i] = (char)b[TZP_SOCKADDR_UNIX_HDR + i];
		}
		sa->path_len = plen;
		return 0;
	default:
		break;
	}
	return -1;
}

size_t tzp_encode_sockaddr(const struct tzp_sockaddr *sa, uint8_t *b)
{
	size_t i;

	switch (sa->family) {
	case TZP_FAMILY_INET:
		tzp_put16(b, TZP_FAMILY_INET);
		tzp_put16(b + 2, sa->port);
		copy_bytes(b + 4, sa->addr, 4);
		return TZP_SOCKADDR_INET_LEN;
	case TZP_FAMILY_INET6:
		tzp_put16(b, TZP_FAMILY_INET6);
		tzp_put16(b + 2, sa->port);
		copy_bytes(b + 4, sa->addr, 16);
		tzp_put32(b + 20, sa->scope);
		return TZP_SOCKADDR_INET6_LEN;
	case TZP_FAMILY_UNIX:
		if (sa->path_len > TZP_MAX_UNIX_PATH)
			return 0;
		for (i = 0; i < sa->path_len; i++)
			if (sa->path[i] == 0)
				return 0;
		tzp_put16(b, TZP_FAMILY_UNIX);
		tzp_put16(b + 2, 0);
		tzp_put16(b + 4, sa->path_len);
		copy_bytes(b + TZP_SOCKADDR_UNIX_HDR, (const uint8_t *)sa->path, sa->path_len);
		return TZP_SOCKADDR_UNIX_HDR + sa->path_len;
	default:
		break;
	}
	return 0;
}

/* exact_sockaddr checks that b[0..n) is exactly one well-formed sockaddr. */
static int exact_sockaddr(const uint8_t *b, size_t n)
{
	struct tzp_sockaddr sa;

	return tzp_parse_sockaddr(b, n, &sa) == 0 ? TZP_OK : TZP_V_SOCKADDR;
}

static int aux_zero(const struct tzp_response *r, int from)
{
	int i;

	for (i = from; i < 4; i++)
		if (r->aux[i] != 0)
			return TZP_V_AUX;
	return TZP_OK;
}

static int ret_zero_no_payload(const struct tzp_response *r)
{
	if (r->ret != 0)
		return TZP_V_RET;
	return r->payload_len == 0 ? TZP_OK : TZP_V_PAYLOAD_LEN;
}

static int check_sockopt(int64_t opt, int64_t v)
{
	switch (opt) {
	case TZP_SO_REUSEADDR:
	case TZP_SO_KEEPALIVE:
	case TZP_TCP_NODELAY:
	case TZP_SO_BROADCAST:
	case TZP_SO_REUSEPORT:
		return v <= 1 ? TZP_OK : TZP_V_SOCKOPT;
	case TZP_SO_RCVBUF:
	case TZP_SO_SNDBUF:
		return v <= 0x7fffffff ? TZP_OK : TZP_V_SOCKOPT;
	case TZP_SO_ERROR:
		return v <= (int64_t)TZP_MAX_ERRNO ? TZP_OK : TZP_V_SOCKOPT;
	case TZP_SO_TYPE:
		return (v == TZP_SOCK_STREAM || v == TZP_SOCK_DGRAM) ? TZP_OK : TZP_V_SOCKOPT;
	default:
		break;
	}
	return TZP_V_REQUEST;
}

/* check_poll compares the entries (in priv) with the TA's own copy. */
static int check_poll(const struct tzp_request *req, const struct tzp_response *r,
		      const uint8_t *priv)
{
	int64_t nfds = req->args[0], ready = 0, i;

	if (nfds < 0 || nfds > (int64_t)TZP_MAX_POLLFDS ||
	    (int64_t)req->payload_len != nfds * (int64_t)TZP_POLLFD_SIZE ||
	    (nfds > 0 && req->payload == NULL))
		return TZP_V_REQUEST;
	for (i = 0; i < nfds; i++) {
		const uint8_t *q = req->payload + i * TZP_POLLFD_SIZE;
		const uint8_t *p = priv + i * TZP_POLLFD_SIZE;
		int32_t qfd = (int32_t)tzp_get32(q);
		uint16_t qev = tzp_get16(q + 4), rev = tzp_get16(p + 6);

		if (tzp_get32(p) != tzp_get32(q) || tzp_get16(p + 4) != qev)
			return TZP_V_POLL;
		if ((rev & ~TZP_POLL_EVENTS) != 0)
			return TZP_V_POLL;
		if ((rev & ~(qev | TZP_POLLERR | TZP_POLLHUP | TZP_POLLNVAL)) != 0)
			return TZP_V_POLL;
		if (qfd < 0 && rev != 0)
			return TZP_V_POLL;
		if (rev != 0)
			ready++;
	}
	return r->ret == ready ? TZP_OK : TZP_V_COUNT;
}

int tzp_next_readahead(const uint8_t *b, size_t n, struct tzp_readahead *r)
{
	if (n < TZP_READAHEAD_HDR)
		return -1;
	r->index = tzp_get32(b);
	r->err = tzp_get16(b + 4);
	r->addr_len = tzp_get16(b + 6);
	r->len = tzp_get32(b + 8);
	if ((uint64_t)r->addr_len + r->len > (uint64_t)(n - TZP_READAHEAD_HDR))
		return -1;
	return 0;
}

/* check_readahead checks the aux[0] read-ahead records (b[0..n), a
 * private copy) behind a POLL response's entries (priv): increasing entry
 * indexes below nfds, each for an entry that asked for POLLIN and reports
 * it; either an errno (valid, nothing else) or data or a sender, the
 * sender exactly one well-formed sockaddr; all the data within the
 * budget; the records filling the payload exactly (tzrpc.checkReadAhead). */
static int check_readahead(const struct tzp_request *req, const struct tzp_response *r,
			   const uint8_t *priv, const uint8_t *b, size_t n)
{
	int64_t nrec = r->aux[0], budget = req->args[2], last = -1, k, i;
	struct tzp_readahead rec;
	size_t size;

	if (nrec < 0 || nrec > req->args[0])
		return TZP_V_AUX;
	if (nrec > 0 && budget == 0)
		return TZP_V_AUX;
	for (k = 0; k < nrec; k++) {
		const uint8_t *q, *p;

		if (tzp_next_readahead(b, n, &rec) != 0)
			return TZP_V_READAHEAD;
		i = (int64_t)rec.index;
		if (i <= last || i >= req->args[0])
			return TZP_V_READAHEAD;
		last = i;
		q = req->payload + i * TZP_POLLFD_SIZE;
		p = priv + i * TZP_POLLFD_SIZE;
		if ((int32_t)tzp_get32(q) < 0 || !(tzp_get16(q + 4) & TZP_POLLIN) ||
		    !(tzp_get16(p + 6) & TZP_POLLIN))
			return TZP_V_READAHEAD;
		if (rec.err != 0 && (rec.err > TZP_MAX_ERRNO || rec.len != 0 || rec.addr_len != 0))
			return TZP_V_READAHEAD;
		if (rec.err == 0 && rec.len == 0 && rec.addr_len == 0)
			return TZP_V_READAHEAD;
		if (rec.addr_len != 0 && exact_sockaddr(b + TZP_READAHEAD_HDR, rec.addr_len) != TZP_OK)
			return TZP_V_SOCKADDR;
		if ((int64_t)rec.len > budget)
			return TZP_V_READAHEAD;
		budget -= (int64_t)rec.len;
		size = TZP_READAHEAD_HDR + (size_t)rec.addr_len + (size_t)rec.len;
		b += size;
		n -= size;
	}
	return n == 0 ? TZP_OK : TZP_V_PAYLOAD_LEN;
}

int tzp_take_response(const uint8_t *mb, size_t mbsize, const struct tzp_request *req,
		      size_t max_len, uint8_t *priv, size_t priv_cap, uint8_t *ra, size_t ra_cap,
		      struct tzp_response *r)
{
	uint8_t h[TZP_HEADER_SIZE];
	const uint8_t *payload;
	size_t rlen;
	int i, v;

	if (mbsize < TZP_HEADER_SIZE)
		return TZP_V_SHORT_MAILBOX;
	/* The one read of the header; everything below looks at h only. */
	copy_bytes(h, mb, TZP_HEADER_SIZE);
	payload = mb + TZP_HEADER_SIZE;

	r->op = tzp_get16(h + 6);
	r->seq = tzp_get32(h + 8);
	r->payload_len = tzp_get32(h + 12);
	r->ret = (int64_t)tzp_get64(h + 16);
	r->err = tzp_get32(h + 24);
	for (i = 0; i < 4; i++)
		r->aux[i] = (int64_t)tzp_get64(h + 32 + 8 * i);

	/* The header's own invariants (tzrpc.DecodeResponse). */
	if (tzp_get32(h) != TZP_MAGIC_RESPONSE)
		return TZP_V_MAGIC;
	if (tzp_get16(h + 4) != TZP_VERSION)
		return TZP_V_VERSION;
	if (tzp_get32(h + 28) != 0)
		return TZP_V_RESERVED;
	if (r->err > TZP_MAX_ERRNO)
		return TZP_V_ERRNO;
	if (r->ret < 0 || (r->err != 0 && r->ret != 0))
		return TZP_V_RET;
	if ((uint64_t)r->payload_len > (uint64_t)(mbsize - TZP_HEADER_SIZE))
		return TZP_V_PAYLOAD_LEN;
	if (r->err != 0 && r->payload_len != 0)
		return TZP_V_PAYLOAD_LEN;
	if ((uint64_t)r->payload_len > (uint64_t)max_len)
		return TZP_V_PAYLOAD_LEN;

	/* Against the request (tzrpc.CheckResponse). */
	if (req->op == TZP_OP_EXIT)
		return TZP_V_OP;
	if (r->op != req->op)
		return TZP_V_OP;
	if (r->seq != req->seq)
		return TZP_V_SEQ;
	if (r->err != 0)
		return aux_zero(r, 0);
	if ((v = aux_zero(r, req->op == TZP_OP_RECVFROM || req->op == TZP_OP_POLL ? 1 : 0)) != TZP_OK)
		return v;

	switch (req->op) {
	case TZP_OP_OPEN:
	case TZP_OP_SOCKET:
		if (r->ret >= TZP_FD_LIMIT)
			return TZP_V_FD;
		return r->payload_len == 0 ? TZP_OK : TZP_V_PAYLOAD_LEN;
	case TZP_OP_ACCEPT:
	case TZP_OP_GETSOCKNAME:
	case TZP_OP_GETPEERNAME:
		if (req->op == TZP_OP_ACCEPT ? r->ret >= TZP_FD_LIMIT : r->ret != 0)
			return req->op == TZP_OP_ACCEPT ? TZP_V_FD : TZP_V_RET;
		if (r->payload_len > TZP_MAX_SOCKADDR || r->payload_len > priv_cap)
			return TZP_V_SOCKADDR;
		copy_bytes(priv, payload, r->payload_len);
		return exact_sockaddr(priv, r->payload_len);
	case TZP_OP_READ:
	case TZP_OP_RECV:
		if (r->ret > req->args[1])
			return TZP_V_COUNT;
		return (int64_t)r->payload_len == r->ret ? TZP_OK : TZP_V_PAYLOAD_LEN;
	case TZP_OP_WRITE:
	case TZP_OP_SEND:
		if (r->ret > (int64_t)req->payload_len)
			return TZP_V_COUNT;
		return r->payload_len == 0 ? TZP_OK : TZP_V_PAYLOAD_LEN;
	case TZP_OP_SENDTO:
		if (req->args[2] < 0 || req->args[2] > (int64_t)req->payload_len)
			return TZP_V_REQUEST;
		if (r->ret > (int64_t)req->payload_len - req->args[2])
			return TZP_V_COUNT;
		return r->payload_len == 0 ? TZP_OK : TZP_V_PAYLOAD_LEN;
	case TZP_OP_RECVFROM:
		if (r->aux[0] < 0 || r->aux[0] > (int64_t)r->payload_len)
			return TZP_V_AUX;
		if (r->ret > req->args[1])
			return TZP_V_COUNT;
		if ((int64_t)r->payload_len - r->aux[0] != r->ret)
			return TZP_V_PAYLOAD_LEN;
		if (r->aux[0] == 0)
			return TZP_OK;
		if (r->aux[0] > (int64_t)TZP_MAX_SOCKADDR || (uint64_t)r->aux[0] > priv_cap)
			return TZP_V_SOCKADDR;
		copy_bytes(priv, payload, (size_t)r->aux[0]);
		return exact_sockaddr(priv, (size_t)r->aux[0]);
	case TZP_OP_GETSOCKOPT:
		if ((v = check_sockopt(req->args[1], r->ret)) != TZP_OK)
			return v;
		return r->payload_len == 0 ? TZP_OK : TZP_V_PAYLOAD_LEN;
	case TZP_OP_POLL:
		/* The entries to priv, the read-ahead records to ra. */
		if (r->payload_len < req->payload_len || req->payload_len > priv_cap)
			return TZP_V_PAYLOAD_LEN;
		rlen = r->payload_len - req->payload_len;
		if (rlen > ra_cap)
			return TZP_V_PAYLOAD_LEN;
		copy_bytes(priv, payload, req->payload_len);
		if (rlen > 0)
			copy_bytes(ra, payload + req->payload_len, rlen);
		if ((v = check_poll(req, r, priv)) != TZP_OK)
			return v;
		return check_readahead(req, r, priv, ra, rlen);
	case TZP_OP_FCNTL:
		if (req->args[1] == TZP_F_GETFL) {
			if ((r->ret & ~(int64_t)(TZP_O_ACCMODE | TZP_O_APPEND | TZP_O_NONBLOCK)) != 0 ||
			    (r->ret & TZP_O_ACCMODE) == TZP_O_ACCMODE)
				return TZP_V_FCNTL;
			return r->payload_len == 0 ? TZP_OK : TZP_V_PAYLOAD_LEN;
		}
		break;
	default:
		break;
	}
	return ret_zero_no_payload(r);
}
