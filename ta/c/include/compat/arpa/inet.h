/* <arpa/inet.h> for a TA built with libtzposix: everything is in tzposix/posix.h. */
#ifndef TZPOSIX_COMPAT_ARPA_INET_H
#define TZPOSIX_COMPAT_ARPA_INET_H
#include <tzposix/posix.h>
#endif
