/*
 * wasi/wasi.h - WASI preview 1 over libtzposix, for WebAssembly modules
 * translated to C by wasm2c (ta/wasm2ta) and run as C TAs.
 *
 * The semantics are those of the Go host in ta/wasm (docs/wasm.md, "WASI
 * preview 1, call by call" and "The tzposix import module"): fd 0 reads
 * end of file, 1 and 2 go to the log a line at a time, 3 is the TA's root
 * "/", 4... are the preopened listen sockets; paths are relative to a
 * directory descriptor and resolved by the shadow inside the root; every
 * pointer and length from the guest is checked against its memory before
 * use (EFAULT), result pointers before the call is made.
 *
 * Each function takes the layer's state and the guest's parameters and
 * returns a WASI errno. The guest's memory is w->mem[0..w->mem_size),
 * which the caller (the wasm2c binding, wasi_wasm2c.c) refreshes before
 * every call, since memory.grow may move it.
 */
#ifndef TZWASI_WASI_H
#define TZWASI_WASI_H

#include <stddef.h>
#include <stdint.h>

/* Descriptors one module may hold (guest numbers 0..TZWASI_MAX_FDS-1). */
#ifndef TZWASI_MAX_FDS
#define TZWASI_MAX_FDS 64
#endif
/* A multi-buffer datagram read or write is gathered through a buffer of
 * this size (single-buffer calls go straight to guest memory); a larger
 * datagram write is EMSGSIZE. */
#ifndef TZWASI_GATHER_BYTES
#define TZWASI_GATHER_BYTES 2048
#endif
/* Subscriptions one poll_oneoff may carry. */
#ifndef TZWASI_MAX_SUBS
#define TZWASI_MAX_SUBS 64
#endif
/* The longest stdout/stderr line; longer ones are split. */
#define TZWASI_LINE_BYTES 4096
/* The log's token bucket: lines per second, and the burst. */
#define TZWASI_LOG_RATE 50
#define TZWASI_LOG_BURST 200

/* WASI errnos used by name (WASI numbering, not Linux's). */
enum {
	TZWASI_ESUCCESS = 0,
	TZWASI_EAGAIN = 6,
	TZWASI_EBADF = 8,
	TZWASI_ECANCELED = 11,
	TZWASI_EEXIST = 20,
	TZWASI_EFAULT = 21,
	TZWASI_EINTR = 27,
	TZWASI_EINVAL = 28,
	TZWASI_EIO = 29,
	TZWASI_EISDIR = 31,
	TZWASI_EMFILE = 33,
	TZWASI_EMSGSIZE = 35,
	TZWASI_ENAMETOOLONG = 37,
	TZWASI_ENOENT = 44,
	TZWASI_ENOPROTOOPT = 50,
	TZWASI_ENOSYS = 52,
	TZWASI_ENOTDIR = 54,
	TZWASI_ENOTSOCK = 57,
	TZWASI_ENOTSUP = 58,
	TZWASI_ESPIPE = 70,
	TZWASI_ENOTCAPABLE = 76,
};

enum tzwasi_kind {
	TZWASI_FREE = 0,
	TZWASI_STDIN,
	TZWASI_STDOUT,
	TZWASI_STDERR,
	TZWASI_DIR,
	TZWASI_FILE, /* a FIFO, or whatever path_open opened that is no directory */
	TZWASI_STREAM,
	TZWASI_DGRAM,
};

struct tzwasi_fd {
	uint8_t kind;    /* enum tzwasi_kind */
	uint8_t preopen; /* fd_prestat_get answers for it */
	uint16_t flags;  /* WASI fdflags in force */
	int host;        /* libtzposix descriptor, -1 for stdio and the root */
	char *path;      /* directories: the path from the root ("/" for it) */
};

struct tzwasi_line {
	uint32_t len;
	char b[TZWASI_LINE_BYTES];
};

struct tzwasi {
	uint8_t *mem;      /* the guest's memory, set before each call */
	uint64_t mem_size; /* its size in bytes */
	const char *name;  /* argv[0]: the TA's name */
	struct tzwasi_fd fds[TZWASI_MAX_FDS];
	struct tzwasi_line line[2]; /* stdout, stderr */
	uint64_t log_tokens_ms;     /* token bucket, in milli-tokens */
	uint64_t log_last_ns;
	uint64_t log_dropped;
	uint64_t mono_base; /* monotonic clock at start: WASI's zero */
	uint8_t gather[TZWASI_GATHER_BYTES];
	uint8_t subs[TZWASI_MAX_SUBS * 48]; /* private copy of poll_oneoff's input */
};

/* The platform: clocks, randomness and the log, from the secure world
 * (wasi_gp.c: TEE_GetSystemTime, TEE_GetREETime, TEE_GenerateRandom,
 * trace_ext_puts). clock is 0 (realtime) or 1 (monotonic). */
uint64_t tzwasi_platform_clock(uint32_t clock);
void tzwasi_platform_random(void *buf, uint32_t len);
void tzwasi_platform_log(int stream, const char *line, uint32_t len);

/* tzwasi_init sets up the descriptor table: stdio, the root as fd 3. */
void tzwasi_init(struct tzwasi *w, const char *name);
/* tzwasi_preopen_listen adds a listen socket at the next descriptor (4, 5,
 * ...), made as docs/wasm.md says: socket(SOCK_NONBLOCK), SO_REUSEADDR for
 * IP, bind, listen for streams; a stale UNIX socket node is unlinked
 * first. spec is "tcp://127.0.0.1:7000", "udp://[::1]:7001" or
 * "unix:/echo.sock". Returns a WASI errno. */
int tzwasi_preopen_listen(struct tzwasi *w, const char *spec);
/* tzwasi_close_all closes every descriptor the guest still holds. */
void tzwasi_close_all(struct tzwasi *w);
/* tzwasi_errno maps a libtzposix errno (Linux numbering) onto WASI's; an
 * errno WASI cannot name is EIO. */
uint16_t tzwasi_errno(int e);

/* wasi_snapshot_preview1: the parameters as the module passes them. */
int tzwasi_args_get(struct tzwasi *w, uint32_t argv, uint32_t buf);
int tzwasi_args_sizes_get(struct tzwasi *w, uint32_t argc_out, uint32_t size_out);
int tzwasi_environ_get(struct tzwasi *w, uint32_t env, uint32_t buf);
int tzwasi_environ_sizes_get(struct tzwasi *w, uint32_t n_out, uint32_t size_out);
int tzwasi_clock_res_get(struct tzwasi *w, uint32_t id, uint32_t out);
int tzwasi_clock_time_get(struct tzwasi *w, uint32_t id, uint64_t precision, uint32_t out);
int tzwasi_random_get(struct tzwasi *w, uint32_t buf, uint32_t len);
int tzwasi_fd_check(struct tzwasi *w, uint32_t fd, int then);
int tzwasi_fd_close(struct tzwasi *w, uint32_t fd);
int tzwasi_fd_fdstat_get(struct tzwasi *w, uint32_t fd, uint32_t out);
int tzwasi_fd_fdstat_set_flags(struct tzwasi *w, uint32_t fd, uint32_t flags);
int tzwasi_fd_filestat_get(struct tzwasi *w, uint32_t fd, uint32_t out);
int tzwasi_fd_prestat_get(struct tzwasi *w, uint32_t fd, uint32_t out);
int tzwasi_fd_prestat_dir_name(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len);
int tzwasi_fd_readdir(struct tzwasi *w, uint32_t fd);
int tzwasi_fd_renumber(struct tzwasi *w, uint32_t from, uint32_t to);
int tzwasi_fd_read(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs, uint32_t n_out);
int tzwasi_fd_write(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs, uint32_t n_out);
int tzwasi_path_open(struct tzwasi *w, uint32_t dirfd, uint32_t lookup, uint32_t path,
		     uint32_t path_len, uint32_t oflags, uint64_t rights, uint64_t inheriting,
		     uint32_t fdflags, uint32_t fd_out);
int tzwasi_path_create_directory(struct tzwasi *w, uint32_t dirfd, uint32_t path, uint32_t len);
int tzwasi_path_remove_directory(struct tzwasi *w, uint32_t dirfd, uint32_t path, uint32_t len);
int tzwasi_path_unlink_file(struct tzwasi *w, uint32_t dirfd, uint32_t path, uint32_t len);
int tzwasi_path_rename(struct tzwasi *w, uint32_t dirfd, uint32_t path, uint32_t len,
		       uint32_t dirfd2, uint32_t path2, uint32_t len2);
int tzwasi_path_filestat_get(struct tzwasi *w, uint32_t dirfd, uint32_t lookup, uint32_t path,
			     uint32_t len, uint32_t out);
int tzwasi_poll_oneoff(struct tzwasi *w, uint32_t in, uint32_t out, uint32_t n, uint32_t n_out);
int tzwasi_sock_accept(struct tzwasi *w, uint32_t fd, uint32_t flags, uint32_t fd_out);
int tzwasi_sock_recv(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs,
		     uint32_t riflags, uint32_t n_out, uint32_t roflags_out);
int tzwasi_sock_send(struct tzwasi *w, uint32_t fd, uint32_t iovs, uint32_t niovs,
		     uint32_t siflags, uint32_t n_out);
int tzwasi_sock_shutdown(struct tzwasi *w, uint32_t fd, uint32_t how);

/* The tzposix import module (docs/wasm.md): numbers and sockaddrs are
 * the tzrpc protocol's. */
int tzwasi_tz_socket(struct tzwasi *w, uint32_t domain, uint32_t type, uint32_t fd_out);
int tzwasi_tz_bind(struct tzwasi *w, uint32_t fd, uint32_t addr, uint32_t len);
int tzwasi_tz_connect(struct tzwasi *w, uint32_t fd, uint32_t addr, uint32_t len);
int tzwasi_tz_listen(struct tzwasi *w, uint32_t fd, uint32_t backlog);
int tzwasi_tz_sendto(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t flags,
		     uint32_t addr, uint32_t addr_len, uint32_t n_out);
int tzwasi_tz_recvfrom(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t flags,
		       uint32_t addr_buf, uint32_t addr_buf_len, uint32_t addr_len_out,
		       uint32_t n_out);
int tzwasi_tz_getsockname(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t len_out);
int tzwasi_tz_getpeername(struct tzwasi *w, uint32_t fd, uint32_t buf, uint32_t len, uint32_t len_out);
int tzwasi_tz_setsockopt(struct tzwasi *w, uint32_t fd, uint32_t opt, uint32_t value);
int tzwasi_tz_getsockopt(struct tzwasi *w, uint32_t fd, uint32_t opt, uint32_t value_out);
int tzwasi_tz_mkfifo(struct tzwasi *w, uint32_t dirfd, uint32_t path, uint32_t len, uint32_t mode);

#endif /* TZWASI_WASI_H */
