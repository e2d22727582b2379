/*
 * host_main.c - the GP entry-point dispatcher of a TA built for the host,
 * so that the tzbridge simulator can run it (kind "native" in the config;
 * package ta/native on the Go side).
 *
 * On a device, OP-TEE calls a TA's entry points. Here this program does:
 * it is linked with the TA (its sources, libtzposix) and started by the
 * simulated secure world with a SOCK_SEQPACKET socket at descriptor 3 and
 * TZBRIDGE_NATIVE=1 in its environment. It sends HELLO, then performs one
 * entry point per message it receives and answers each with a reply. The
 * messages are fixed 128-byte records, little-endian:
 *
 *   off size
 *     0   4  kind: 1 HELLO, 2 CREATE, 3 DESTROY, 4 OPEN_SESSION,
 *               5 CLOSE_SESSION, 6 INVOKE, 7 SHM, 8 CANCEL;
 *               a reply is the request's kind | 0x80
 *     4   4  session id (chosen by the secure world)
 *     8   4  command id (INVOKE)
 *    12   4  parameter types (TEE_PARAM_TYPES)
 *    16   4  result (replies: TEE_Result)
 *    20   4  0
 *    24  64  four parameters of 16 bytes: u64 a, u64 b. Values: a, b.
 *            Memrefs: a = offset in the shared memory, or all ones for a
 *            null memref; b = size (in a reply: the size the TA set).
 *    88  40  0
 *
 *   HELLO (first message, from this program): 8: u32 version (1),
 *   12: u32 TA_FLAGS, 16: TA_UUID (16 bytes, RFC 4122 order),
 *   32: u32 TA_STACK_SIZE, 36: u32 TA_DATA_SIZE.
 *   SHM carries a sealed memfd (SCM_RIGHTS) and its size at 8 (u64): the
 *   memory memrefs point into from then on. CANCEL has no reply; it sets
 *   the flag TEE_GetCancellationFlag reports during the current call,
 *   once the session has unmasked cancellation (TEE_UnmaskCancellation:
 *   like OP-TEE, every session starts with it masked, as GP requires).
 *
 * The simulator runs this program in a sandbox (internal/sandbox): no
 * file system, no network, no other process, and a seccomp allow-list of
 * the system calls this file, libtzposix and a static glibc make; every
 * other call fails with EPERM, as a TA on OP-TEE has no system calls.
 *
 * End of file on the socket ends the program; so does the death of the
 * secure world (PR_SET_PDEATHSIG). A TA that panics (TEE_Panic) or
 * crashes ends it too, and the secure world reports the TA dead.
 *
 * This file is an ordinary Linux program: it sees the host's headers and
 * the GP subset, never tzposix/posix.h.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tee_internal_api.h>
#include <trace.h>
#include <user_ta_header.h>

#include "user_ta_header_defines.h"

#ifndef TA_STACK_SIZE
#define TA_STACK_SIZE 0
#endif
#ifndef TA_DATA_SIZE
#define TA_DATA_SIZE 0
#endif

#define CTL_FD 3
#define MSG_SIZE 128
#define NATIVE_VERSION 1

enum {
	K_HELLO = 1,
	K_CREATE = 2,
	K_DESTROY = 3,
	K_OPEN = 4,
	K_CLOSE = 5,
	K_INVOKE = 6,
	K_SHM = 7,
	K_CANCEL = 8,
	K_REPLY = 0x80
};

#define NULL_MEMREF UINT64_MAX
#define MAX_SESSIONS 1024

static uint8_t *arena;
static uint64_t arena_size;
static bool cancelled;
/* The cancellation mask of the session whose entry point runs; NULL
 * outside a session's entry points (create, destroy), where cancellation
 * is masked. */
static bool *cancel_mask;

static struct {
	uint32_t id;
	void *ctx;
	bool used;
	bool cancel_mask; /* true until the TA unmasks cancellation */
} sessions[MAX_SESSIONS];

static void die(const char *what)
{
	fprintf(stderr, "native TA: %s: %s\n", what, strerror(errno));
	_exit(2);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get64(const uint8_t *b)
{
	return (uint64_t)get32(b) | (uint64_t)get32(b + 4) << 32;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)(v >> 16);
	b[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *b, uint64_t v)
{
	put32(b, (uint32_t)v);
	put32(b + 4, (uint32_t)(v >> 32));
}

/* ---- GP functions the TA and libtzposix use ------------------------- */

void TEE_Panic(TEE_Result code)
{
	fprintf(stderr, "native TA: TEE_Panic(0x%08x)\n", (unsigned)code);
	fflush(stderr);
	_exit(3);
}

void *TEE_Malloc(size_t size, uint32_t hint)
{
	if (hint & TEE_USER_MEM_HINT_NO_FILL_ZERO)
		return malloc(size ? size : 1);
	return calloc(1, size ? size : 1);
}

void TEE_Free(void *p)
{
	free(p);
}

void TEE_MemMove(void *dst, const void *src, size_t n)
{
	memmove(dst, src, n);
}

void TEE_MemFill(void *p, uint32_t x, size_t n)
{
	memset(p, (int)(uint8_t)x, n);
}

bool TEE_GetCancellationFlag(void)
{
	uint8_t m[MSG_SIZE];
	ssize_t n;

	if (cancel_mask == NULL || *cancel_mask)
		return false; /* masked: GP says false, whatever the flag */
	/* A CANCEL sent during this call waits on the socket. */
	while (!cancelled) {
		n = recv(CTL_FD, m, sizeof(m), MSG_PEEK | MSG_DONTWAIT);
		if (n != MSG_SIZE || get32(m) != K_CANCEL)
			break;
		(void)recv(CTL_FD, m, sizeof(m), MSG_DONTWAIT);
		cancelled = true;
	}
	return cancelled;
}

/* set_mask sets the current session's cancellation mask and reports what
 * it was. */
static bool set_mask(bool masked)
{
	bool old = cancel_mask == NULL || *cancel_mask;

	if (cancel_mask != NULL)
		*cancel_mask = masked;
	return old;
}

/* The secure world's clocks and randomness: on the host, the host's.
 * System time is monotonic (since boot) as on OP-TEE; REE time is the
 * wall clock. */
static void tee_time(clockid_t id, TEE_Time *t)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	t->seconds = (uint32_t)ts.tv_sec;
	t->millis = (uint32_t)(ts.tv_nsec / 1000000);
}

void TEE_GetSystemTime(TEE_Time *t)
{
	tee_time(CLOCK_MONOTONIC, t);
}

void TEE_GetREETime(TEE_Time *t)
{
	tee_time(CLOCK_REALTIME, t);
}

void TEE_GenerateRandom(void *buf, size_t len)
{
	uint8_t *b = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(b, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			TEE_Panic(TEE_ERROR_GENERIC);
		}
		b += n;
		len -= (size_t)n;
	}
}

/* trace_ext_puts is OP-TEE's TA log (libutils' trace.h); on the host,
 * the TA process's stderr, which the bridge passes on. */
void trace_ext_puts(const char *s)
{
	fputs(s, stderr);
	fflush(stderr);
}

bool TEE_UnmaskCancellation(void)
{
	return set_mask(false);
}

bool TEE_MaskCancellation(void)
{
	return set_mask(true);
}

/* ---- Messages ------------------------------------------------------- */

static void send_msg(const uint8_t *m)
{
	ssize_t n;

	do
		n = send(CTL_FD, m, MSG_SIZE, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n != MSG_SIZE)
		_exit(0); /* the secure world is gone */
}

static void hello(void)
{
	static const TEE_UUID uuid = TA_UUID;
	uint8_t m[MSG_SIZE] = {0};
	int i;

	put32(m, K_HELLO);
	put32(m + 8, NATIVE_VERSION);
	put32(m + 12, (uint32_t)(TA_FLAGS));
	m[16] = (uint8_t)(uuid.timeLow >> 24);
	m[17] = (uint8_t)(uuid.timeLow >> 16);
	m[18] = (uint8_t)(uuid.timeLow >> 8);
	m[19] = (uint8_t)uuid.timeLow;
	m[20] = (uint8_t)(uuid.timeMid >> 8);
	m[21] = (uint8_t)uuid.timeMid;
	m[22] = (uint8_t)(uuid.timeHiAndVersion >> 8);
	m[23] = (uint8_t)uuid.timeHiAndVersion;
	for (i = 0; i < 8; i++)
		m[24 + i] = uuid.clockSeqAndNode[i];
	put32(m + 32, (uint32_t)(TA_STACK_SIZE));
	put32(m + 36, (uint32_t)(TA_DATA_SIZE));
	send_msg(m);
}

/* recv_msg reads the next message and the descriptor it carries (or -1).
 * End of file ends the program. */
static void recv_msg(uint8_t *m, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = m, .iov_len = MSG_SIZE};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(CTL_FD, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		exit(0);
	if (n < 0)
		die("receive");
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n != MSG_SIZE || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		fprintf(stderr, "native TA: malformed message from the secure world\n");
		_exit(2);
	}
}

static TEE_Result map_shm(int fd, uint64_t size)
{
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != size || size == 0 ||
	    size > SIZE_MAX) {
		if (fd >= 0)
			close(fd);
		return TEE_ERROR_BAD_PARAMETERS;
	}
	p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return TEE_ERROR_OUT_OF_MEMORY;
	if (arena)
		munmap(arena, (size_t)arena_size);
	arena = p;
	arena_size = size;
	return TEE_SUCCESS;
}

/* params_in builds the TEE_Params of a message; the memrefs must lie in
 * the shared memory. */
static bool params_in(const uint8_t *m, uint32_t types, TEE_Param *p)
{
	int i;

	for (i = 0; i < TEE_NUM_PARAMS; i++) {
		uint64_t a = get64(m + 24 + 16 * i), b = get64(m + 32 + 16 * i);

		switch (TEE_PARAM_TYPE_GET(types, i)) {
		case TEE_PARAM_TYPE_NONE:
			memset(&p[i], 0, sizeof(p[i]));
			break;
		case TEE_PARAM_TYPE_VALUE_INPUT:
		case TEE_PARAM_TYPE_VALUE_OUTPUT:
		case TEE_PARAM_TYPE_VALUE_INOUT:
			p[i].value.a = (uint32_t)a;
			p[i].value.b = (uint32_t)b;
			break;
		case TEE_PARAM_TYPE_MEMREF_INPUT:
		case TEE_PARAM_TYPE_MEMREF_OUTPUT:
		case TEE_PARAM_TYPE_MEMREF_INOUT:
			if (a == NULL_MEMREF) {
				p[i].memref.buffer = NULL;
			} else {
				if (arena == NULL || a > arena_size || b > arena_size - a)
					return false;
				p[i].memref.buffer = arena + a;
			}
			p[i].memref.size = (size_t)b;
			break;
		default:
			return false;
		}
	}
	return true;
}

static void params_out(uint8_t *r, uint32_t types, const TEE_Param *p)
{
	int i;

	for (i = 0; i < TEE_NUM_PARAMS; i++) {
		switch (TEE_PARAM_TYPE_GET(types, i)) {
		case TEE_PARAM_TYPE_VALUE_OUTPUT:
		case TEE_PARAM_TYPE_VALUE_INOUT:
			put64(r + 24 + 16 * i, p[i].value.a);
			put64(r + 32 + 16 * i, p[i].value.b);
			break;
		case TEE_PARAM_TYPE_MEMREF_INPUT:
		case TEE_PARAM_TYPE_MEMREF_OUTPUT:
		case TEE_PARAM_TYPE_MEMREF_INOUT:
			put64(r + 32 + 16 * i, p[i].memref.size);
			break;
		}
	}
}

static int find_session(uint32_t id)
{
	int i;

	for (i = 0; i < MAX_SESSIONS; i++)
		if (sessions[i].used && sessions[i].id == id)
			return i;
	return -1;
}

static TEE_Result open_session(uint32_t id, uint32_t types, TEE_Param *p)
{
	TEE_Result r;
	void *ctx = NULL;
	int i;

	if (find_session(id) >= 0)
		return TEE_ERROR_BAD_STATE;
	for (i = 0; i < MAX_SESSIONS && sessions[i].used; i++)
		;
	if (i == MAX_SESSIONS)
		return TEE_ERROR_OUT_OF_MEMORY;
	sessions[i].cancel_mask = true;
	cancel_mask = &sessions[i].cancel_mask;
	r = TA_OpenSessionEntryPoint(types, p, &ctx);
	if (r == TEE_SUCCESS) {
		sessions[i].id = id;
		sessions[i].ctx = ctx;
		sessions[i].used = true;
	}
	return r;
}

int main(void)
{
	uint8_t m[MSG_SIZE], r[MSG_SIZE];
	TEE_Param p[TEE_NUM_PARAMS];
	uint32_t kind, id, types;
	struct stat st;
	const char *env = getenv("TZBRIDGE_NATIVE");
	int fd, i;

	if (env == NULL || strcmp(env, "1") != 0 || fstat(CTL_FD, &st) != 0 ||
	    !S_ISSOCK(st.st_mode)) {
		fprintf(stderr,
			"This is a Trusted Application built for tzbridge's simulated secure world.\n"
			"Name it in a tzbridge config (native: PATH) and run `tzbridge run`.\n");
		return 2;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
		die("prctl");
	signal(SIGPIPE, SIG_IGN);
	hello();
	for (;;) {
		recv_msg(m, &fd);
		kind = get32(m);
		id = get32(m + 4);
		types = get32(m + 12);
		if (fd >= 0 && kind != K_SHM) {
			close(fd);
			fd = -1;
		}
		if (kind == K_CANCEL)
			continue; /* the call it was meant for has ended */
		memset(r, 0, sizeof(r));
		put32(r, kind | K_REPLY);
		put32(r + 4, id);
		cancelled = false;
		cancel_mask = NULL;
		switch (kind) {
		case K_CREATE:
			put32(r + 16, TA_CreateEntryPoint());
			break;
		case K_DESTROY:
			TA_DestroyEntryPoint();
			break;
		case K_SHM:
			put32(r + 16, map_shm(fd, get64(m + 8)));
			break;
		case K_OPEN:
			if (!params_in(m, types, p)) {
				put32(r + 16, TEE_ERROR_BAD_PARAMETERS);
				break;
			}
			put32(r + 16, open_session(id, types, p));
			params_out(r, types, p);
			break;
		case K_CLOSE:
			if ((i = find_session(id)) < 0) {
				put32(r + 16, TEE_ERROR_BAD_STATE);
				break;
			}
			sessions[i].used = false;
			cancel_mask = &sessions[i].cancel_mask;
			TA_CloseSessionEntryPoint(sessions[i].ctx);
			break;
		case K_INVOKE:
			if ((i = find_session(id)) < 0) {
				put32(r + 16, TEE_ERROR_BAD_STATE);
				break;
			}
			if (!params_in(m, types, p)) {
				put32(r + 16, TEE_ERROR_BAD_PARAMETERS);
				break;
			}
			cancel_mask = &sessions[i].cancel_mask;
			put32(r + 16, TA_InvokeCommandEntryPoint(sessions[i].ctx, get32(m + 8), types, p));
			params_out(r, types, p);
			break;
		default:
			fprintf(stderr, "native TA: unknown message kind %u\n", (unsigned)kind);
			_exit(2);
		}
		send_msg(r);
	}
}
