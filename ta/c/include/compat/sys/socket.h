/* <sys/socket.h> for a TA built with libtzposix: everything is in tzposix/posix.h. */
#ifndef TZPOSIX_COMPAT_SYS_SOCKET_H
#define TZPOSIX_COMPAT_SYS_SOCKET_H
#include <tzposix/posix.h>
#endif
