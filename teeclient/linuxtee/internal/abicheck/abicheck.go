//go:build cgo && teeabi

package abicheck

/*
#include <stddef.h>
#include <linux/tee.h>

struct entry {
	const char *name;
	unsigned long long value;
};

#define SIZE(s) { #s, sizeof(struct s) }
#define OFF(s, f) { #s "." #f, offsetof(struct s, f) }
#define CONST(c) { #c, (unsigned long long)(c) }

static const struct entry tee_sizes[] = {
	SIZE(tee_ioctl_version_data),
	SIZE(tee_ioctl_shm_alloc_data),
	SIZE(tee_ioctl_buf_data),
	SIZE(tee_ioctl_param),
	SIZE(tee_ioctl_open_session_arg),
	SIZE(tee_ioctl_invoke_arg),
	SIZE(tee_ioctl_cancel_arg),
	SIZE(tee_ioctl_close_session_arg),
	SIZE(tee_ioctl_shm_register_data),
};

static const struct entry tee_offsets[] = {
	OFF(tee_ioctl_version_data, impl_id),
	OFF(tee_ioctl_version_data, impl_caps),
	OFF(tee_ioctl_version_data, gen_caps),
	OFF(tee_ioctl_shm_alloc_data, size),
	OFF(tee_ioctl_shm_alloc_data, flags),
	OFF(tee_ioctl_shm_alloc_data, id),
	OFF(tee_ioctl_buf_data, buf_ptr),
	OFF(tee_ioctl_buf_data, buf_len),
	OFF(tee_ioctl_param, attr),
	OFF(tee_ioctl_param, a),
	OFF(tee_ioctl_param, b),
	OFF(tee_ioctl_param, c),
	OFF(tee_ioctl_open_session_arg, uuid),
	OFF(tee_ioctl_open_session_arg, clnt_uuid),
	OFF(tee_ioctl_open_session_arg, clnt_login),
	OFF(tee_ioctl_open_session_arg, cancel_id),
	OFF(tee_ioctl_open_session_arg, session),
	OFF(tee_ioctl_open_session_arg, ret),
	OFF(tee_ioctl_open_session_arg, ret_origin),
	OFF(tee_ioctl_open_session_arg, num_params),
	OFF(tee_ioctl_open_session_arg, params),
	OFF(tee_ioctl_invoke_arg, func),
	OFF(tee_ioctl_invoke_arg, session),
	OFF(tee_ioctl_invoke_arg, cancel_id),
	OFF(tee_ioctl_invoke_arg, ret),
	OFF(tee_ioctl_invoke_arg, ret_origin),
	OFF(tee_ioctl_invoke_arg, num_params),
	OFF(tee_ioctl_invoke_arg, params),
	OFF(tee_ioctl_cancel_arg, cancel_id),
	OFF(tee_ioctl_cancel_arg, session),
	OFF(tee_ioctl_close_session_arg, session),
	OFF(tee_ioctl_shm_register_data, addr),
	OFF(tee_ioctl_shm_register_data, length),
	OFF(tee_ioctl_shm_register_data, flags),
	OFF(tee_ioctl_shm_register_data, id),
};

static const struct entry tee_consts[] = {
	CONST(TEE_IOC_VERSION),
	CONST(TEE_IOC_SHM_ALLOC),
	CONST(TEE_IOC_OPEN_SESSION),
	CONST(TEE_IOC_INVOKE),
	CONST(TEE_IOC_CANCEL),
	CONST(TEE_IOC_CLOSE_SESSION),
	CONST(TEE_IOC_SHM_REGISTER),
	CONST(TEE_IOC_MAGIC),
	CONST(TEE_MAX_ARG_SIZE),
	CONST(TEE_GEN_CAP_GP),
	CONST(TEE_GEN_CAP_PRIVILEGED),
	CONST(TEE_GEN_CAP_REG_MEM),
	CONST(TEE_GEN_CAP_MEMREF_NULL),
	CONST(TEE_MEMREF_NULL),
	CONST(TEE_IMPL_ID_OPTEE),
	CONST(TEE_IMPL_ID_AMDTEE),
#ifdef TEE_IMPL_ID_TSTEE
	CONST(TEE_IMPL_ID_TSTEE),
#endif
	CONST(TEE_OPTEE_CAP_TZ),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_NONE),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_OUTPUT),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT),
	CONST(TEE_IOCTL_PARAM_ATTR_TYPE_MASK),
	CONST(TEE_IOCTL_PARAM_ATTR_META),
	CONST(TEE_IOCTL_PARAM_ATTR_MASK),
	CONST(TEE_IOCTL_LOGIN_PUBLIC),
	CONST(TEE_IOCTL_LOGIN_USER),
	CONST(TEE_IOCTL_LOGIN_GROUP),
	CONST(TEE_IOCTL_LOGIN_APPLICATION),
	CONST(TEE_IOCTL_LOGIN_USER_APPLICATION),
	CONST(TEE_IOCTL_LOGIN_GROUP_APPLICATION),
	CONST(TEE_IOCTL_UUID_LEN),
};

static const struct entry *entries(int which, int *n) {
	switch (which) {
	case 0: *n = sizeof(tee_sizes) / sizeof(tee_sizes[0]); return tee_sizes;
	case 1: *n = sizeof(tee_offsets) / sizeof(tee_offsets[0]); return tee_offsets;
	default: *n = sizeof(tee_consts) / sizeof(tee_consts[0]); return tee_consts;
	}
}
*/
import "C"

import "unsafe"

func table(which C.int) map[string]uint64 {
	var n C.int
	p := C.entries(which, &n)
	m := make(map[string]uint64, int(n))
	for _, e := range unsafe.Slice(p, int(n)) {
		m[C.GoString(e.name)] = uint64(e.value)
	}
	return m
}

// Sizes maps "struct_name" to sizeof(struct struct_name).
func Sizes() map[string]uint64 { return table(0) }

// Offsets maps "struct_name.field" to offsetof(struct struct_name, field);
// for the flexible params[] it is where the parameters start.
func Offsets() map[string]uint64 { return table(1) }

// Constants maps macro names (ioctl requests, attributes, capabilities,
// login methods, ids) to their values.
func Constants() map[string]uint64 { return table(2) }
