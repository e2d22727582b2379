/*
 * tzposix/tzposix.h - libtzposix's own interface, beside the POSIX names.
 *
 * libtzposix implements a TA's GP entry points (TA_CreateEntryPoint ...
 * TA_InvokeCommandEntryPoint): a TA built with it provides only
 * int main(void) (see posix.h) and its user_ta_header_defines.h.
 *
 *   OpenSession(VALUE_INPUT {a: protocol version 1, b: mailbox size})
 *       sets up the session: a stack for the TA's coroutine, its
 *       descriptor table and private buffers.
 *   Invoke(RESUME = 1, MEMREF_INOUT mailbox)
 *       switches into the coroutine (the first time: starts main) and
 *       returns TEE_SUCCESS when TA code has posted its next request, or
 *       EXIT after main returned or called exit.
 *   CloseSession
 *       frees the session; TA code suspended in a call never runs again.
 *
 * Build-time settings (-D...): TZPOSIX_STACK_SIZE, the TA coroutine's
 * stack in bytes (default 64 KiB, from the TA heap: count it in
 * TA_DATA_SIZE); TZPOSIX_MAX_FDS, descriptors one session may hold
 * (default 256); TZPOSIX_READAHEAD_BYTES, the most one poll asks the
 * shadow to read ahead (default 16 KiB; the session keeps those bytes in a
 * pool of that size plus 1 KiB, from the TA heap; 0: no read-ahead, no
 * pool).
 */
#ifndef TZPOSIX_TZPOSIX_H
#define TZPOSIX_TZPOSIX_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol violations by the normal world seen in this session; each
 * reached TA code as EIO. */
uint64_t tzposix_violations(void);

/* With strict set, a violation panics the TA (TEE_Panic) instead of
 * returning EIO: the normal world that lies gets a dead TA, not one that
 * carries on. Per session; off by default. */
void tzposix_set_strict(int strict);

#ifdef __cplusplus
}
#endif

#endif /* TZPOSIX_TZPOSIX_H */
