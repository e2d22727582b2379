/*
 * fake.c - wasi.c compiled against a fake libtzposix and platform (see
 * fake.h). Every fake records its call in fk and answers fk.ret/fk.err.
 */
#include "../wasi.c"

#include "fake.h"

struct fk_state fk;
static int fk_errno;

#define GUARD 64

int *tzposix_errno_location(void)
{
	return &fk_errno;
}

static void rec(const char *name, int64_t a0, int64_t a1, int64_t a2, int64_t a3)
{
	size_t i;

	fk.calls++;
	for (i = 0; name[i] && i + 1 < sizeof(fk.last); i++)
		fk.last[i] = name[i];
	fk.last[i] = 0;
	fk.a[0] = a0, fk.a[1] = a1, fk.a[2] = a2, fk.a[3] = a3;
}

static void keep(char *dst, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < sizeof(fk.path); i++)
		dst[i] = s[i];
	dst[i] = 0;
}

static int64_t answer(void)
{
	if (fk.ret < 0)
		fk_errno = fk.err;
	return fk.ret;
}

int tzposix_open(const char *path, int flags, ...)
{
	rec("open", flags, 0, 0, 0);
	keep(fk.path, path);
	return (int)answer();
}

int tzposix_close(int fd)
{
	rec("close", fd, 0, 0, 0);
	return (int)answer();
}

static ssize_t give(void *buf, size_t count)
{
	int64_t n = answer();

	if (n > 0) {
		if ((size_t)n > count)
			n = (int64_t)count;
		copy(buf, fk.data, (size_t)n);
	}
	return (ssize_t)n;
}

static ssize_t take(const void *buf, size_t count)
{
	int64_t n = answer();

	if (n >= 0) {
		size_t k = count < sizeof(fk.sent) ? count : sizeof(fk.sent);
		copy(fk.sent, buf, k);
		fk.sent_len = k;
		if ((size_t)n > count)
			n = (int64_t)count;
	}
	return (ssize_t)n;
}

ssize_t tzposix_read(int fd, void *buf, size_t count)
{
	rec("read", fd, (int64_t)count, 0, 0);
	return give(buf, count);
}

ssize_t tzposix_write(int fd, const void *buf, size_t count)
{
	rec("write", fd, (int64_t)count, 0, 0);
	return take(buf, count);
}

ssize_t tzposix_recv(int fd, void *buf, size_t len, int flags)
{
	rec("recv", fd, (int64_t)len, flags, 0);
	return give(buf, len);
}

ssize_t tzposix_send(int fd, const void *buf, size_t len, int flags)
{
	rec("send", fd, (int64_t)len, flags, 0);
	return take(buf, len);
}

static void give_addr(struct sockaddr *addr, socklen_t *len)
{
	if (addr && len) {
		size_t n = fk.addr_len < *len ? fk.addr_len : *len;
		copy((uint8_t *)addr, fk.addr, n);
		*len = fk.addr_len;
	}
}

ssize_t tzposix_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, socklen_t *alen)
{
	rec("recvfrom", fd, (int64_t)len, flags, 0);
	give_addr(addr, alen);
	return give(buf, len);
}

ssize_t tzposix_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t alen)
{
	rec("sendto", fd, (int64_t)len, flags, alen);
	if (addr && alen <= sizeof(fk.addr)) {
		copy(fk.addr, (const uint8_t *)addr, alen);
		fk.addr_len = alen;
	}
	return take(buf, len);
}

int tzposix_mkfifo(const char *path, mode_t mode)
{
	rec("mkfifo", mode, 0, 0, 0);
	keep(fk.path, path);
	return (int)answer();
}

int tzposix_mkdir(const char *path, mode_t mode)
{
	rec("mkdir", mode, 0, 0, 0);
	keep(fk.path, path);
	return (int)answer();
}

int tzposix_unlink(const char *path)
{
	rec("unlink", 0, 0, 0, 0);
	keep(fk.path, path);
	return (int)answer();
}

int tzposix_rmdir(const char *path)
{
	rec("rmdir", 0, 0, 0, 0);
	keep(fk.path, path);
	return (int)answer();
}

int tzposix_rename(const char *oldpath, const char *newpath)
{
	rec("rename", 0, 0, 0, 0);
	keep(fk.path, oldpath);
	keep(fk.path2, newpath);
	return (int)answer();
}

int tzposix_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int arg = 0;

	if (cmd == F_SETFL) {
		va_start(ap, cmd);
		arg = va_arg(ap, int);
		va_end(ap);
	}
	rec("fcntl", fd, cmd, arg, 0);
	if (cmd == F_GETFL && fk.ret >= 0)
		return O_RDWR;
	return (int)answer();
}

int tzposix_socket(int domain, int type, int protocol)
{
	rec("socket", domain, type, protocol, 0);
	return (int)answer();
}

static int addr_rec(const char *name, int fd, const struct sockaddr *addr, socklen_t len)
{
	rec(name, fd, len, 0, 0);
	if (len <= sizeof(fk.addr)) {
		copy(fk.addr, (const uint8_t *)addr, len);
		fk.addr_len = len;
	}
	return (int)answer();
}

int tzposix_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return addr_rec("bind", fd, addr, len);
}

int tzposix_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	return addr_rec("connect", fd, addr, len);
}

int tzposix_listen(int fd, int backlog)
{
	rec("listen", fd, backlog, 0, 0);
	return (int)answer();
}

int tzposix_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return tzposix_accept4(fd, addr, len, 0);
}

int tzposix_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	rec("accept4", fd, flags, 0, 0);
	give_addr(addr, len);
	return (int)answer();
}

int tzposix_shutdown(int fd, int how)
{
	rec("shutdown", fd, how, 0, 0);
	return (int)answer();
}

int tzposix_getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	rec("getsockname", fd, 0, 0, 0);
	give_addr(addr, len);
	return (int)answer();
}

int tzposix_getpeername(int fd, struct sockaddr *addr, socklen_t *len)
{
	rec("getpeername", fd, 0, 0, 0);
	give_addr(addr, len);
	return (int)answer();
}

int tzposix_setsockopt(int fd, int level, int opt, const void *val, socklen_t len)
{
	rec("setsockopt", fd, level, opt, len == sizeof(int) ? *(const int *)val : -1);
	return (int)answer();
}

int tzposix_getsockopt(int fd, int level, int opt, void *val, socklen_t *len)
{
	rec("getsockopt", fd, level, opt, 0);
	if (fk.ret >= 0 && *len >= sizeof(int))
		*(int *)val = (int)fk.a[5];
	return (int)answer();
}

int tzposix_poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	nfds_t i;

	rec("poll", (int64_t)nfds, timeout, 0, 0);
	fk.npoll = (int)nfds;
	fk.poll_timeout = timeout;
	for (i = 0; i < nfds && i < FK_MAX_POLL; i++) {
		fk.poll_fd[i] = fds[i].fd;
		fk.poll_events[i] = fds[i].events;
		fds[i].revents = fk.poll_revents[i];
	}
	return (int)answer();
}

uint64_t tzwasi_platform_clock(uint32_t clock)
{
	return fk.clock[clock & 1];
}

void tzwasi_platform_random(void *buf, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(0xa5 ^ i);
}

void tzwasi_platform_log(int stream, const char *line, uint32_t len)
{
	int k = fk.nlog++;

	if (k >= FK_LOG_LINES)
		return; /* counted, not kept */
	fk.log_stream[k] = stream;
	fk.log_len[k] = len;
	copy((uint8_t *)fk.log_line[k], (const uint8_t *)line, len < 159 ? len : 159);
	fk.log_line[k][len < 159 ? len : 159] = 0;
}

void fk_reset(void)
{
	zero((uint8_t *)&fk, sizeof(fk));
	fk_errno = 0;
}

struct tzwasi *fk_new(uint32_t mem_size)
{
	struct tzwasi *w = TEE_Malloc(sizeof(*w), 0);
	uint8_t *m = TEE_Malloc((size_t)mem_size + GUARD, 0);
	uint32_t i;

	for (i = 0; i < GUARD; i++)
		m[mem_size + i] = 0xee;
	tzwasi_init(w, "wtest");
	w->mem = m;
	w->mem_size = mem_size;
	return w;
}

uint8_t *fk_mem(struct tzwasi *w)
{
	return w->mem;
}

int fk_guard_ok(struct tzwasi *w)
{
	uint32_t i;

	for (i = 0; i < GUARD; i++)
		if (w->mem[w->mem_size + i] != 0xee)
			return 0;
	return 1;
}

void fk_free(struct tzwasi *w)
{
	uint32_t i;

	for (i = 0; i < TZWASI_MAX_FDS; i++)
		release(&w->fds[i]);
	TEE_Free(w->mem);
	TEE_Free(w);
}

int fk_add_dir(struct tzwasi *w, const char *p)
{
	uint32_t i;
	size_t n = slen(p);

	for (i = 0; i < TZWASI_MAX_FDS; i++) {
		if (w->fds[i].kind == TZWASI_FREE) {
			w->fds[i].kind = TZWASI_DIR;
			w->fds[i].host = 50;
			w->fds[i].path = TEE_Malloc(n + 1, 0);
			copy((uint8_t *)w->fds[i].path, (const uint8_t *)p, n + 1);
			return (int)i;
		}
	}
	return -1;
}

#define A(i) ((uint32_t)args[i])
#define A64(i) (args[i])

int fk_call(struct tzwasi *w, int fn, const uint64_t *args)
{
	switch (fn) {
	case 0: return tzwasi_args_get(w, A(0), A(1));
	case 1: return tzwasi_args_sizes_get(w, A(0), A(1));
	case 2: return tzwasi_environ_sizes_get(w, A(0), A(1));
	case 3: return tzwasi_clock_res_get(w, A(0), A(1));
	case 4: return tzwasi_clock_time_get(w, A(0), A64(1), A(2));
	case 5: return tzwasi_random_get(w, A(0), A(1));
	case 6: return tzwasi_fd_close(w, A(0));
	case 7: return tzwasi_fd_fdstat_get(w, A(0), A(1));
	case 8: return tzwasi_fd_fdstat_set_flags(w, A(0), A(1));
	case 9: return tzwasi_fd_filestat_get(w, A(0), A(1));
	case 10: return tzwasi_fd_prestat_get(w, A(0), A(1));
	case 11: return tzwasi_fd_prestat_dir_name(w, A(0), A(1), A(2));
	case 12: return tzwasi_fd_readdir(w, A(0));
	case 13: return tzwasi_fd_renumber(w, A(0), A(1));
	case 14: return tzwasi_fd_read(w, A(0), A(1), A(2), A(3));
	case 15: return tzwasi_fd_write(w, A(0), A(1), A(2), A(3));
	case 16: return tzwasi_path_open(w, A(0), A(1), A(2), A(3), A(4), A64(5), A64(6), A(7), A(8));
	case 17: return tzwasi_path_create_directory(w, A(0), A(1), A(2));
	case 18: return tzwasi_path_remove_directory(w, A(0), A(1), A(2));
	case 19: return tzwasi_path_unlink_file(w, A(0), A(1), A(2));
	case 20: return tzwasi_path_rename(w, A(0), A(1), A(2), A(3), A(4), A(5));
	case 21: return tzwasi_path_filestat_get(w, A(0), A(1), A(2), A(3), A(4));
	case 22: return tzwasi_poll_oneoff(w, A(0), A(1), A(2), A(3));
	case 23: return tzwasi_sock_accept(w, A(0), A(1), A(2));
	case 24: return tzwasi_sock_recv(w, A(0), A(1), A(2), A(3), A(4), A(5));
	case 25: return tzwasi_sock_send(w, A(0), A(1), A(2), A(3), A(4));
	case 26: return tzwasi_sock_shutdown(w, A(0), A(1));
	case 27: return tzwasi_tz_socket(w, A(0), A(1), A(2));
	case 28: return tzwasi_tz_bind(w, A(0), A(1), A(2));
	case 29: return tzwasi_tz_connect(w, A(0), A(1), A(2));
	case 30: return tzwasi_tz_listen(w, A(0), A(1));
	case 31: return tzwasi_tz_sendto(w, A(0), A(1), A(2), A(3), A(4), A(5), A(6));
	case 32: return tzwasi_tz_recvfrom(w, A(0), A(1), A(2), A(3), A(4), A(5), A(6), A(7));
	case 33: return tzwasi_tz_getsockname(w, A(0), A(1), A(2), A(3));
	case 34: return tzwasi_tz_getpeername(w, A(0), A(1), A(2), A(3));
	case 35: return tzwasi_tz_setsockopt(w, A(0), A(1), A(2));
	case 36: return tzwasi_tz_getsockopt(w, A(0), A(1), A(2));
	case 37: return tzwasi_tz_mkfifo(w, A(0), A(1), A(2), A(3));
	default: return -1;
	}
}

int fk_nfuncs(void)
{
	return 38;
}

int fk_preopen(struct tzwasi *w, const char *spec)
{
	return tzwasi_preopen_listen(w, spec);
}
