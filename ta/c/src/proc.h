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
};

#define TZP_PRIV_SIZE (TZP_MAX_POLLFDS * TZP_POLLFD_SIZE)

/* tzp_proc_init sets up p for a mailbox of mbsize bytes with the memory
 * given: fds (fd_cap slots, a power of two; at most fd_cap / 2 descriptors
 * are kept) and two buffers of TZP_PRIV_SIZE bytes. */
void tzp_proc_init(struct tzp_proc *p, size_t mbsize, struct tzp_fdslot *fds,
		   uint32_t fd_cap, uint8_t *poll_req, uint8_t *priv);

/* tzp_proc_exit writes the EXIT request for status into mb; the caller
 * then hands the mailbox over and never resumes the program. */
void tzp_proc_exit(struct tzp_proc *p, int status);

/* The session whose program is running (entry.c sets it around each
 * switch into the coroutine). */
extern struct tzp_proc *tzp_proc_current;

#endif /* TZPOSIX_PROC_H */
