/*
 * tzposix/codec.h - the tzrpc wire format (docs/protocol.md), TA side.
 *
 * Pure functions over byte buffers: no I/O, no allocation, no global
 * state, so that they can be fuzzed on their own (ta/c/fuzz). All integers
 * on the wire are little-endian; the functions read and write them byte by
 * byte, so they work on any host byte order and alignment.
 *
 * A response is never trusted: tzp_take_response copies the 64-byte header
 * once, decodes only the copy, copies any payload whose structure it checks
 * into private memory, and checks everything of protocol section 7.2
 * before the library looks at a field.
 */
#ifndef TZPOSIX_CODEC_H
#define TZPOSIX_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define TZP_HEADER_SIZE 64u
#define TZP_MAGIC_REQUEST 0x51525A54u
#define TZP_MAGIC_RESPONSE 0x53525A54u
#define TZP_VERSION 1u
#define TZP_MIN_MAILBOX (4096u + TZP_HEADER_SIZE)
#define TZP_CMD_RESUME 1u
#define TZP_CMD_NULL 2u /* tzrpc.CmdNull: no parameters, TEE_SUCCESS */
#define TZP_FD_LIMIT (1L << 30)
#define TZP_MAX_PATH 4095u
#define TZP_MAX_UNIX_PATH 107u
#define TZP_SOCKADDR_INET_LEN 8u
#define TZP_SOCKADDR_INET6_LEN 24u
#define TZP_SOCKADDR_UNIX_HDR 6u
#define TZP_MAX_SOCKADDR (TZP_SOCKADDR_UNIX_HDR + TZP_MAX_UNIX_PATH)
#define TZP_MAX_POLLFDS 1024u
#define TZP_POLLFD_SIZE 8u
#define TZP_MAX_BACKLOG 65535
#define TZP_MAX_ERRNO 133u
#define TZP_READAHEAD_HDR 12u
#define TZP_MAX_READAHEAD (1L << 30)

enum tzp_op {
	TZP_OP_EXIT = 1,
	TZP_OP_OPEN = 2,
	TZP_OP_CLOSE = 3,
	TZP_OP_READ = 4,
	TZP_OP_WRITE = 5,
	TZP_OP_MKFIFO = 6,
	TZP_OP_UNLINK = 7,
	TZP_OP_MKDIR = 8,
	TZP_OP_RMDIR = 9,
	TZP_OP_RENAME = 10,
	TZP_OP_SOCKET = 11,
	TZP_OP_BIND = 12,
	TZP_OP_LISTEN = 13,
	TZP_OP_ACCEPT = 14,
	TZP_OP_CONNECT = 15,
	TZP_OP_SEND = 16,
	TZP_OP_RECV = 17,
	TZP_OP_SENDTO = 18,
	TZP_OP_RECVFROM = 19,
	TZP_OP_SHUTDOWN = 20,
	TZP_OP_GETSOCKNAME = 21,
	TZP_OP_GETPEERNAME = 22,
	TZP_OP_SETSOCKOPT = 23,
	TZP_OP_GETSOCKOPT = 24,
	TZP_OP_POLL = 25,
	TZP_OP_FCNTL = 26,
	TZP_OP_LAST = TZP_OP_FCNTL
};

/* Protocol constants (section 5) the library needs by name. */
#define TZP_O_ACCMODE 0x3
#define TZP_O_APPEND 0x400
#define TZP_O_NONBLOCK 0x800
#define TZP_SOCK_STREAM 1
#define TZP_SOCK_DGRAM 2
#define TZP_SOCK_NONBLOCK 0x800
#define TZP_MSG_DONTWAIT 0x40
#define TZP_POLLIN 0x1
#define TZP_POLLERR 0x8
#define TZP_POLLHUP 0x10
#define TZP_POLLNVAL 0x20
#define TZP_POLL_EVENTS 0x3f
#define TZP_F_GETFL 1
#define TZP_F_SETFL 2
#define TZP_SO_REUSEADDR 1
#define TZP_SO_KEEPALIVE 2
#define TZP_SO_RCVBUF 3
#define TZP_SO_SNDBUF 4
#define TZP_TCP_NODELAY 5
#define TZP_SO_ERROR 6
#define TZP_SO_TYPE 7
#define TZP_SO_BROADCAST 8
#define TZP_SO_REUSEPORT 9

/* Sockaddr families on the wire (section 4): not AF_* numbers. */
#define TZP_FAMILY_INET 1
#define TZP_FAMILY_INET6 2
#define TZP_FAMILY_UNIX 3

/* A request as the TA library builds it. payload is the TA's own copy of
 * what it sent where the check needs it (POLL entries); payload_len is
 * always the number of payload bytes sent. */
struct tzp_request {
	uint16_t op;
	uint32_t seq;
	int64_t args[6];
	uint32_t payload_len;
	const uint8_t *payload;
};

/* A decoded response header. */
struct tzp_response {
	uint16_t op;
	uint32_t seq;
	uint32_t payload_len;
	int64_t ret;
	uint32_t err;
	int64_t aux[4];
};

/* A decoded sockaddr (section 4). */
struct tzp_sockaddr {
	uint16_t family; /* TZP_FAMILY_*, 0 = none */
	uint16_t port;
	uint8_t addr[16];
	uint32_t scope;
	uint16_t path_len;
	char path[TZP_MAX_UNIX_PATH];
};

/* The header of a POLL read-ahead record (section 3, POLL read-ahead):
 * entry index, errno (0 or what the shadow's read met, then nothing
 * follows), source sockaddr length (datagram sockets only) and data
 * length. The record is TZP_READAHEAD_HDR + addr_len + len bytes: the
 * header, the sockaddr, the data. */
struct tzp_readahead {
	uint32_t index;
	uint16_t err;
	uint16_t addr_len;
	uint32_t len;
};

/* Result of a response check: 0, or the rule that failed. */
enum tzp_violation {
	TZP_OK = 0,
	TZP_V_SHORT_MAILBOX,
	TZP_V_MAGIC,
	TZP_V_VERSION,
	TZP_V_RESERVED,
	TZP_V_ERRNO,
	TZP_V_RET,
	TZP_V_PAYLOAD_LEN,
	TZP_V_OP,
	TZP_V_SEQ,
	TZP_V_AUX,
	TZP_V_FD,
	TZP_V_COUNT,
	TZP_V_SOCKADDR,
	TZP_V_SOCKOPT,
	TZP_V_POLL,
	TZP_V_FCNTL,
	TZP_V_REQUEST,
	TZP_V_READAHEAD
};

static inline uint16_t tzp_get16(const uint8_t *b)
{
	return (uint16_t)(b[0] | (b[1] << 8));
}

static inline uint32_t tzp_get32(const uint8_t *b)
{
	return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	       ((uint32_t)b[3] << 24);
}

static inline uint64_t tzp_get64(const uint8_t *b)
{
	return (uint64_t)tzp_get32(b) | ((uint64_t)tzp_get32(b + 4) << 32);
}

static inline void tzp_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void tzp_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static inline void tzp_put64(uint8_t *b, uint64_t v)
{
	tzp_put32(b, (uint32_t)v);
	tzp_put32(b + 4, (uint32_t)(v >> 32));
}

/* tzp_encode_request_header writes the header of req at mb[0..64). The
 * payload (req->payload_len bytes) must already be at mb[64..]: the header
 * goes last. Returns -1, writing nothing, if the op is unknown or the
 * payload does not fit a mailbox of mbsize bytes. */
int tzp_encode_request_header(uint8_t *mb, size_t mbsize, const struct tzp_request *req);

/* tzp_take_response decodes and checks the response in mb (mbsize bytes)
 * to req, accepting at most max_len payload bytes. The header is copied
 * once and decoded from the copy into *resp. For ops whose payload has
 * structure (ACCEPT, GETSOCKNAME, GETPEERNAME: the sockaddr; RECVFROM: the
 * source sockaddr; POLL: the entries) the payload is first copied into
 * priv (priv_cap bytes, at least TZP_MAX_SOCKADDR, and nfds * 8 for POLL)
 * and checked there; the caller then reads those bytes from priv only.
 * For POLL, req->payload must be the TA's own copy of the entries sent,
 * req->args[2] the read-ahead budget asked for, and the read-ahead records
 * after the entries (payload_len - nfds * 8 bytes) are copied into ra
 * (ra_cap bytes; more is a violation) and checked there: resp->aux[0] of
 * them, walked with tzp_next_readahead. What only the library knows (a
 * sockaddr exactly for datagram sockets) is left to it.
 * Returns TZP_OK or the violated rule; nothing of a violating response may
 * reach TA code. */
int tzp_take_response(const uint8_t *mb, size_t mbsize, const struct tzp_request *req,
		      size_t max_len, uint8_t *priv, size_t priv_cap, uint8_t *ra, size_t ra_cap,
		      struct tzp_response *resp);

/* tzp_next_readahead decodes the header of the record at the start of
 * b[0..n) into *r: 0, or -1 if b is too short for the whole record. */
int tzp_next_readahead(const uint8_t *b, size_t n, struct tzp_readahead *r);

/* tzp_parse_sockaddr decodes exactly one sockaddr filling b[0..n). */
int tzp_parse_sockaddr(const uint8_t *b, size_t n, struct tzp_sockaddr *sa);

/* tzp_encode_sockaddr encodes sa into b (room for TZP_MAX_SOCKADDR bytes)
 * and returns its length, or 0 if sa cannot be encoded. */
size_t tzp_encode_sockaddr(const struct tzp_sockaddr *sa, uint8_t *b);

#endif /* TZPOSIX_CODEC_H */
