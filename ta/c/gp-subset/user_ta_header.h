/*
 * user_ta_header.h - SUBSET of OP-TEE's lib/libutee/include/user_ta_header.h:
 * the TA flags and property types a TA's user_ta_header_defines.h uses.
 * Host builds and the cross-compile check only; see tee_internal_api.h.
 */
#ifndef USER_TA_HEADER_H
#define USER_TA_HEADER_H

#include <tee_internal_api.h>

#define TA_FLAG_USER_MODE 0 /* deprecated */
#define TA_FLAG_EXEC_DDR 0  /* deprecated */
#define TA_FLAG_SINGLE_INSTANCE (1 << 2)
#define TA_FLAG_MULTI_SESSION (1 << 3)
#define TA_FLAG_INSTANCE_KEEP_ALIVE (1 << 4)

enum user_ta_prop_type {
	USER_TA_PROP_TYPE_BOOL,
	USER_TA_PROP_TYPE_U32,
	USER_TA_PROP_TYPE_UUID,
	USER_TA_PROP_TYPE_IDENTITY,
	USER_TA_PROP_TYPE_STRING,
	USER_TA_PROP_TYPE_BINARY_BLOCK,
};

#endif /* USER_TA_HEADER_H */
