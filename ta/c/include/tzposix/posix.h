/*
 * tzposix/posix.h - POSIX names for OP-TEE Trusted Applications.
 *
 * A TA has no kernel of its own to make POSIX calls to. libtzposix turns
 * each call into a tzrpc request (docs/protocol.md) that the TA's shadow in
 * the normal world performs, and checks the shadow's answer before TA code
 * sees it. This header gives TA code the usual names: the types
 * (ssize_t, socklen_t, struct sockaddr_in/in6/un, struct pollfd), the
 * constants (O_*, AF_*, SOCK_*, MSG_*, POLL*, E*, ...) and the functions,
 * which are macros for tzposix_* so that they never collide with anything
 * the TA's C library (libutils on OP-TEE, glibc in a host build) defines.
 *
 * Existing code compiles unchanged when it includes the usual headers and
 * ta/c/include/compat is on the include path (those headers only include
 * this one), or when it includes this header instead of them. Rules:
 *
 *   - main is renamed tzposix_main and must be int main(void). It runs on
 *     the TA's own coroutine stack from the first RESUME; returning from it
 *     (or calling exit) ends the session with that status.
 *   - Do not also include the host's <sys/socket.h>, <errno.h>, ... in a
 *     host build: this header is the TA's whole POSIX.
 *   - Define TZPOSIX_NO_RENAME before including it to get only the types,
 *     constants and the tzposix_* names, without the macros.
 *
 * Constants have Linux's asm-generic values (as on x86-64), which are also
 * the protocol's, except the F_* commands and socket options, which the
 * library translates. Errors are reported through errno, which is per
 * session.
 */
#ifndef TZPOSIX_POSIX_H
#define TZPOSIX_POSIX_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Types ---------------------------------------------------------- */

/* The guards are glibc's and OP-TEE's own, so that whichever header comes
 * first defines the type once. */
#ifndef __ssize_t_defined
#define __ssize_t_defined
typedef intptr_t ssize_t;
#endif
#ifndef __mode_t_defined
#define __mode_t_defined
typedef unsigned int mode_t;
#endif
#ifndef __socklen_t_defined
#define __socklen_t_defined
typedef unsigned int socklen_t;
#endif

typedef unsigned short sa_family_t;
typedef uint16_t in_port_t;
typedef uint32_t in_addr_t;
typedef unsigned long nfds_t;

struct sockaddr {
	sa_family_t sa_family;
	char sa_data[14];
};

struct sockaddr_storage {
	sa_family_t ss_family;
	char __ss_padding[128 - sizeof(sa_family_t) - sizeof(unsigned long)];
	unsigned long __ss_align;
};

struct in_addr {
	in_addr_t s_addr; /* network byte order */
};

struct sockaddr_in {
	sa_family_t sin_family;
	in_port_t sin_port; /* network byte order */
	struct in_addr sin_addr;
	unsigned char sin_zero[8];
};

struct in6_addr {
	unsigned char s6_addr[16];
};

struct sockaddr_in6 {
	sa_family_t sin6_family;
	in_port_t sin6_port; /* network byte order */
	uint32_t sin6_flowinfo;
	struct in6_addr sin6_addr;
	uint32_t sin6_scope_id;
};

#define TZPOSIX_UNIX_PATH_MAX 108
struct sockaddr_un {
	sa_family_t sun_family;
	char sun_path[TZPOSIX_UNIX_PATH_MAX];
};

struct pollfd {
	int fd;
	short events;
	short revents;
};

/* ---- Constants ------------------------------------------------------ */

/* open(2) and fcntl(2). OP-TEE's <sys/fcntl.h> numbers these differently;
 * the guard keeps it out once this header is in. */
#define _SYS_FCNTL_H_
#undef O_RDONLY
#undef O_WRONLY
#undef O_RDWR
#undef O_APPEND
#undef O_CREAT
#undef O_TRUNC
#define O_RDONLY 0x0
#define O_WRONLY 0x1
#define O_RDWR 0x2
#define O_ACCMODE 0x3
#define O_CREAT 0x40
#define O_EXCL 0x80
#define O_NOCTTY 0x100 /* refused (EINVAL): a TA has no terminal */
#define O_TRUNC 0x200
#define O_APPEND 0x400
#define O_NONBLOCK 0x800
#define O_DIRECTORY 0x10000
#define O_CLOEXEC 0x80000
#define F_GETFL 3
#define F_SETFL 4

#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_LOCAL AF_UNIX
#define AF_INET 2
#define AF_INET6 10
#define PF_UNIX AF_UNIX
#define PF_INET AF_INET
#define PF_INET6 AF_INET6

#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_NONBLOCK 0x800
#define SOCK_CLOEXEC 0x80000

#define IPPROTO_IP 0
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41

#define INADDR_ANY ((in_addr_t)0x00000000)
#define INADDR_LOOPBACK ((in_addr_t)0x7f000001)
#define INADDR_BROADCAST ((in_addr_t)0xffffffff)
#define INADDR_NONE ((in_addr_t)0xffffffff)

#define MSG_PEEK 0x2
#define MSG_DONTWAIT 0x40
#define MSG_WAITALL 0x100
#define MSG_NOSIGNAL 0x4000

#define SHUT_RD 0
#define SHUT_WR 1
#define SHUT_RDWR 2

#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SO_TYPE 3
#define SO_ERROR 4
#define SO_BROADCAST 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_REUSEPORT 15
#define TCP_NODELAY 1

#define SOMAXCONN 4096

#define POLLIN 0x1
#define POLLPRI 0x2
#define POLLOUT 0x4
#define POLLERR 0x8
#define POLLHUP 0x10
#define POLLNVAL 0x20

#define S_IRWXU 0700
#define S_IRUSR 0400
#define S_IWUSR 0200
#define S_IXUSR 0100
#define S_IRWXG 0070
#define S_IRGRP 0040
#define S_IWGRP 0020
#define S_IXGRP 0010
#define S_IRWXO 0007
#define S_IROTH 0004
#define S_IWOTH 0002
#define S_IXOTH 0001

/* errno values (Linux asm-generic numbering, which is the protocol's). */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define ENOEXEC 8
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define EWOULDBLOCK EAGAIN
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EXDEV 18
#define ENODEV 19
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOTTY 25
#define ETXTBSY 26
#define EFBIG 27
#define ENOSPC 28
#define ESPIPE 29
#define EROFS 30
#define EMLINK 31
#define EPIPE 32
#define EDOM 33
#define ERANGE 34
#define EDEADLK 35
#define ENAMETOOLONG 36
#define ENOLCK 37
#define ENOSYS 38
#define ENOTEMPTY 39
#define ELOOP 40
#define ENOMSG 42
#define EPROTO 71
#define EOVERFLOW 75
#define EILSEQ 84
#define ENOTSOCK 88
#define EDESTADDRREQ 89
#define EMSGSIZE 90
#define EPROTOTYPE 91
#define ENOPROTOOPT 92
#define EPROTONOSUPPORT 93
#define EOPNOTSUPP 95
#define ENOTSUP EOPNOTSUPP
#define EPFNOSUPPORT 96
#define EAFNOSUPPORT 97
#define EADDRINUSE 98
#define EADDRNOTAVAIL 99
#define ENETDOWN 100
#define ENETUNREACH 101
#define ENETRESET 102
#define ECONNABORTED 103
#define ECONNRESET 104
#define ENOBUFS 105
#define EISCONN 106
#define ENOTCONN 107
#define ETIMEDOUT 110
#define ECONNREFUSED 111
#define EHOSTDOWN 112
#define EHOSTUNREACH 113
#define EALREADY 114
#define EINPROGRESS 115
#define EDQUOT 122
#define ECANCELED 125

/* ---- Byte order ----------------------------------------------------- */

static inline uint16_t tzposix_bswap16(uint16_t v)
{
	return (uint16_t)((v >> 8) | (v << 8));
}

static inline uint32_t tzposix_bswap32(uint32_t v)
{
	return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define tzposix_htons(v) ((uint16_t)(v))
#define tzposix_htonl(v) ((uint32_t)(v))
#else
#define tzposix_htons(v) tzposix_bswap16((uint16_t)(v))
#define tzposix_htonl(v) tzposix_bswap32((uint32_t)(v))
#endif

/* ---- Calls ---------------------------------------------------------- */

int *tzposix_errno_location(void);

int tzposix_open(const char *path, int flags, ...);
int tzposix_close(int fd);
ssize_t tzposix_read(int fd, void *buf, size_t count);
ssize_t tzposix_write(int fd, const void *buf, size_t count);
int tzposix_mkfifo(const char *path, mode_t mode);
int tzposix_mkdir(const char *path, mode_t mode);
int tzposix_unlink(const char *path);
int tzposix_rmdir(const char *path);
int tzposix_rename(const char *oldpath, const char *newpath);
int tzposix_fcntl(int fd, int cmd, ...);

int tzposix_socket(int domain, int type, int protocol);
int tzposix_bind(int fd, const struct sockaddr *addr, socklen_t len);
int tzposix_connect(int fd, const struct sockaddr *addr, socklen_t len);
int tzposix_listen(int fd, int backlog);
int tzposix_accept(int fd, struct sockaddr *addr, socklen_t *len);
int tzposix_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
ssize_t tzposix_send(int fd, const void *buf, size_t len, int flags);
ssize_t tzposix_recv(int fd, void *buf, size_t len, int flags);
ssize_t tzposix_sendto(int fd, const void *buf, size_t len, int flags,
		       const struct sockaddr *to, socklen_t tolen);
ssize_t tzposix_recvfrom(int fd, void *buf, size_t len, int flags,
			 struct sockaddr *from, socklen_t *fromlen);
int tzposix_shutdown(int fd, int how);
int tzposix_getsockname(int fd, struct sockaddr *addr, socklen_t *len);
int tzposix_getpeername(int fd, struct sockaddr *addr, socklen_t *len);
int tzposix_setsockopt(int fd, int level, int opt, const void *val, socklen_t len);
int tzposix_getsockopt(int fd, int level, int opt, void *val, socklen_t *len);
int tzposix_poll(struct pollfd *fds, nfds_t nfds, int timeout);

/* Ends the TA's program: posts EXIT with status and never returns. */
void tzposix_exit(int status) __attribute__((__noreturn__));

/* The TA's program, run once per session. */
int tzposix_main(void);

#ifndef TZPOSIX_NO_RENAME
#define errno (*tzposix_errno_location())
#define htons(v) tzposix_htons(v)
#define ntohs(v) tzposix_htons(v)
#define htonl(v) tzposix_htonl(v)
#define ntohl(v) tzposix_htonl(v)
#define main tzposix_main
#define open tzposix_open
#define close tzposix_close
#define read tzposix_read
#define write tzposix_write
#define mkfifo tzposix_mkfifo
#define mkdir tzposix_mkdir
#define unlink tzposix_unlink
#define rmdir tzposix_rmdir
#define rename tzposix_rename
#define fcntl tzposix_fcntl
#define socket tzposix_socket
#define bind tzposix_bind
#define connect tzposix_connect
#define listen tzposix_listen
#define accept tzposix_accept
#define accept4 tzposix_accept4
#define send tzposix_send
#define recv tzposix_recv
#define sendto tzposix_sendto
#define recvfrom tzposix_recvfrom
#define shutdown tzposix_shutdown
#define getsockname tzposix_getsockname
#define getpeername tzposix_getpeername
#define setsockopt tzposix_setsockopt
#define getsockopt tzposix_getsockopt
#define poll tzposix_poll
#define exit tzposix_exit
#define _exit tzposix_exit
#endif

#ifdef __cplusplus
}
#endif

#endif /* TZPOSIX_POSIX_H */
