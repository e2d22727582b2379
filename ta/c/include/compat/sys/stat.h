/* <sys/stat.h> for a TA built with libtzposix: everything is in tzposix/posix.h. */
#ifndef TZPOSIX_COMPAT_SYS_STAT_H
#define TZPOSIX_COMPAT_SYS_STAT_H
#include <tzposix/posix.h>
#endif
