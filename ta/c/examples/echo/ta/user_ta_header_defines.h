/*
 * The C echo TA's properties, as OP-TEE's TA dev kit reads them (the file
 * name is fixed). The host build reads them too: the simulator takes the
 * UUID and flags from here.
 */
#ifndef USER_TA_HEADER_DEFINES_H
#define USER_TA_HEADER_DEFINES_H

#include <echo_ta.h>

#define TA_UUID TA_ECHO_UUID

/* One instance, one session: the FIFOs, the socket and the ports exist once. */
#define TA_FLAGS TA_FLAG_SINGLE_INSTANCE
/* The entry points' stack; TA code runs on libtzposix's coroutine stack,
 * which comes from the heap. */
#define TA_STACK_SIZE (4 * 1024)
/* Heap: libtzposix's per-session 64 KiB coroutine stack and ~20 KiB of
 * tables, with room to spare. The echo buffers are static data. */
#define TA_DATA_SIZE (256 * 1024)

#define TA_CURRENT_TA_EXT_PROPERTIES \
	{ "gp.ta.description", USER_TA_PROP_TYPE_STRING, "tzbridge C echo TA (libtzposix)" }, \
	{ "gp.ta.version", USER_TA_PROP_TYPE_U32, &(const uint32_t){ 0x0100 } }

#endif /* USER_TA_HEADER_DEFINES_H */
