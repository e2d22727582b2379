/*
 * fake.h - the test harness of the C WASI layer: wasi.c over a fake
 * libtzposix that records each call and answers what the test set.
 */
#ifndef WASITEST_FAKE_H
#define WASITEST_FAKE_H

#include <stddef.h>
#include <stdint.h>

#define FK_MAX_POLL 64
#define FK_LOG_LINES 64

struct fk_state {
	/* What the next call answers: ret < 0 sets errno to err. */
	int64_t ret;
	int err;
	/* Data read/recv/recvfrom return (up to ret bytes). */
	uint8_t data[65536];
	/* Recorded: calls made, the last call's name and arguments. */
	int calls;
	char last[32];
	char path[4200], path2[4200];
	int64_t a[6];
	uint8_t sent[65536];
	size_t sent_len;
	/* poll: the entries and timeout it got; revents it answers. */
	int npoll, poll_timeout;
	int poll_fd[FK_MAX_POLL];
	short poll_events[FK_MAX_POLL];
	short poll_revents[FK_MAX_POLL]; /* by index */
	/* A sockaddr the next recvfrom/getsockname/accept reports. */
	uint8_t addr[128];
	uint32_t addr_len;
	/* The platform. */
	uint64_t clock[2];
	int nlog;
	int log_stream[FK_LOG_LINES];
	uint32_t log_len[FK_LOG_LINES];
	char log_line[FK_LOG_LINES][160];
};

extern struct fk_state fk;

struct tzwasi;
/* fk_new returns a layer with mem_size bytes of guest memory, zeroed, and
 * GUARD bytes of canary after it (fk_guard_ok checks them). */
struct tzwasi *fk_new(uint32_t mem_size);
void fk_free(struct tzwasi *w);
uint8_t *fk_mem(struct tzwasi *w);
int fk_guard_ok(struct tzwasi *w);
void fk_reset(void);
int fk_add_dir(struct tzwasi *w, const char *path); /* a directory fd, or -1 */

/* fk_call calls the layer's function number fn with args (the fuzz
 * target's dispatcher); returns its errno, or -1 for no such fn. */
int fk_call(struct tzwasi *w, int fn, const uint64_t *args);
int fk_nfuncs(void);
int fk_preopen(struct tzwasi *w, const char *spec);

#endif
