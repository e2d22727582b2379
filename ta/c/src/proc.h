/*
 * proc.h - the state behind one session's POSIX calls (internal).
 *
 * posix.c implements the calls over a struct tzp_proc and knows nothing of
 * how the mailbox reaches the shadow: exchange() posts the request that is
 * in mb and returns when the response is (entry.c switches coroutines; the
 * fuzz harness writes a response itself). All memory is provided by the
 * caller of tzp_proc_init, so that posix.c needs no allocator.
 */
#ifndef TZPOSIX_PROC_H
#define TZPOSIX_PROC_H

#define TZPOSIX_NO_RENAME 1
#include <tzposix/codec.h>
#include <tzposix/posix.h>

/* Read-ahead (docs/protocol.md, POLL read-ahead): the most one poll asks
 * the shadow to read ahead, in bytes of data. The bytes are kept, until
 * TA code reads them, in a pool of this size plus TZP_RA_SLACK (for the
 * records' headers and senders) per session; a poll asks for no more than
 * the pool has free. 0: no read-ahead and no pool, every poll sends budget
 * 0. */
#ifndef TZPOSIX_READAHEAD_BYTES
#define TZPOSIX_READAHEAD_BYTES (16 * 1024)
#endif
#if TZPOSIX_READAHEAD_BYTES < 0 || TZPOSIX_READAHEAD_BYTES > (1 << 30)
#error "TZPOSIX_READAHEAD_BYTES must be 0..2^30"
#endif
#define TZP_RA_SLACK 1024u
#if TZPOSIX_READAHEAD_BYTES > 0
#define TZP_RA_POOL_SIZE ((size_t)TZPOSIX_READAHEAD_BYTES + TZP_RA_SLACK)
#else
#define TZP_RA_POOL_SIZE ((size_t)0)
#endif
/* A kept record in the pool: i32 fd (-1: consumed), u16 errno, u16
 * sender length A, u32 data length D, u32 bytes of the data already read;
 * then A bytes of sockaddr and D bytes of data. */
#define TZP_RA_SEG_HDR 16u

/* What the library knows of a descriptor. */
enum tzp_fd_kind {
	TZP_FD_FILE = 1,   /* OPEN: file, FIFO, directory */
	TZP_FD_STREAM = 2, /* SOCK_STREAM socket */
	TZP_FD_DGRAM = 3   /* SOCK_DGRAM: a write is one datagram */
};

struct tzp_fdslot {
	int32_t fd; /* -1: empty */
	uint8_t kind;
	uint8_t status; /* TZP_FD_NONBLOCK, TZP_FD_APPEND */
};
#define TZP_FD_NONBLOCK 1
#define TZP_FD_APPEND 2

struct tzp_proc {
	uint8_t *mb;   /* the mailbox of the RESUME in progress */
	size_t mbsize; /* agreed at OpenSession */
	size_t cap;    /* payload capacity: mbsize - 64 */

	/* Posts the request in mb and waits for the response: 0, or -1 when
	 * the session is gone. */
	int (*exchange)(struct tzp_proc *p);
	/* Called on every protocol violation (may not return). */
	void (*violated)(struct tzp_proc *p, int rule);
	void *owner;

	uint32_t seq;
	int err;    /* errno */
	int closed; /* exited, or the session is gone */
	uint64_t violations;
	int last_violation;

	/* Open descriptors: open addressing, fd_cap slots (a power of two),
	 * at most fd_max entries. */
	struct tzp_fdslot *fds;
	uint32_t fd_cap, fd_max, fd_count;

	/* Private copies: poll_req holds the POLL entries sent, priv the
	 * structured part of a response (TZP_MAX_POLLFDS * 8 bytes each). */
	uint8_t *poll_req;
	uint8_t *priv;

	/* Read-ahead: kept records (TZP_RA_SEG_HDR each, in the order they
	 * came) in ra_pool[0..ra_used), ra_live of them not yet consumed;
	 * ra_off once the shadow refused a budget (a shadow older than
	 * read-ahead). */
	uint8_t *ra_pool;
	size_t ra_used;
	uint32_t ra_live;
	int ra_off;
};

#define TZP_PRIV_SIZE (TZP_MAX_POLLFDS * TZP_POLLFD_SIZE)

/* tzp_proc_init sets up p for a mailbox of mbsize bytes with the memory
 * given: fds (fd_cap slots, a power of two; at most fd_cap / 2 descriptors
 * are kept), two buffers of TZP_PRIV_SIZE bytes and the read-ahead pool,
 * TZP_RA_POOL_SIZE bytes (NULL when that is 0). */
void tzp_proc_init(struct tzp_proc *p, size_t mbsize, struct tzp_fdslot *fds,
		   uint32_t fd_cap, uint8_t *poll_req, uint8_t *priv, uint8_t *ra_pool);

/* tzp_proc_exit writes the EXIT request for status into mb; the caller
 * then hands the mailbox over and never resumes the program. */
void tzp_proc_exit(struct tzp_proc *p, int status);

/* The session whose program is running (entry.c sets it around each
 * switch into the coroutine). */
extern struct tzp_proc *tzp_proc_current;

#endif /* TZPOSIX_PROC_H */
