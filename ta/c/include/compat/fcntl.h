/* <fcntl.h> for a TA built with libtzposix: everything is in tzposix/posix.h. */
#ifndef TZPOSIX_COMPAT_FCNTL_H
#define TZPOSIX_COMPAT_FCNTL_H
#include <tzposix/posix.h>
#endif
