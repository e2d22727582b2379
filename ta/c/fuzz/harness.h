/* harness.h - the C side of package fuzz (see doc.go). */
#ifndef TZPOSIX_FUZZ_HARNESS_H
#define TZPOSIX_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

/* fz_take runs tzp_take_response on mb for a request; out receives ret,
 * errno, payload_len and aux[0..3] (7 values). POLL read-ahead records
 * are copied into FZ_RA_CAP bytes: the fuzz test keeps max_len within the
 * entries plus that, so that the C and Go checks see the same limit. */
#define FZ_RA_CAP 65536
int fz_take(const uint8_t *mb, size_t mbsize, uint16_t op, uint32_t seq, const int64_t *args,
	    uint32_t plen, const uint8_t *reqpayload, size_t max_len, int64_t *out);

/* fz_next_readahead runs tzp_next_readahead; out receives index, errno,
 * addr_len and len. */
int fz_next_readahead(const uint8_t *b, size_t n, int64_t *out);

/* A session whose shadow answers the requests, in turn, with the
 * responses given to fz_respond (up to 4 queued; none left: the session
 * is gone). fz_mailbox is a copy of the last request sent, fz_exchanges
 * counts the requests (RESUMEs), fz_unanswered the responses not used. */
void fz_setup(size_t mbsize);
void fz_respond(const uint8_t *b, size_t n);
uint32_t fz_seq(void);
uint64_t fz_violations(void);
int fz_errno(void);
const uint8_t *fz_mailbox(void);
int fz_exchanges(void);
int fz_unanswered(void);
size_t fz_ra_used(void);

long fz_open(const char *path, int flags);
long fz_close(int fd);
long fz_read(int fd, uint8_t *buf, size_t n);
long fz_write(int fd, const uint8_t *buf, size_t n);
long fz_socket(int domain, int type);
long fz_accept(int fd, uint8_t *addr, uint32_t *alen);
long fz_recv(int fd, uint8_t *buf, size_t n, int flags);
long fz_recvfrom(int fd, uint8_t *buf, size_t n, int flags, uint8_t *addr, uint32_t *alen);
long fz_poll(int32_t *fds, int16_t *events, int16_t *revents, size_t n, int timeout);
long fz_getsockopt(int fd, int level, int opt, int *val);
long fz_fcntl_getfl(int fd);

#endif
