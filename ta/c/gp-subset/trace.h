/*
 * trace.h - the one function of OP-TEE's TA log (lib/libutils/ext/include/
 * trace.h) that tzbridge's C code uses, for host builds and the cross
 * check only. On OP-TEE the TA dev kit's own header is used.
 */
#ifndef TZPOSIX_GP_SUBSET_TRACE_H
#define TZPOSIX_GP_SUBSET_TRACE_H

/* Writes str to the TA's log as it is (no prefix, no newline added). */
void trace_ext_puts(const char *str);

#endif
