//go:build cgo && teeabi

package linuxtee

import (
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/linuxtee/internal/abicheck"
)

// TestABIAgainstHeader compares the Go mirrors, request numbers and
// constants with <linux/tee.h> as the C compiler sees it on this machine.
// Run it with: go test -tags teeabi ./teeclient/linuxtee/...
func TestABIAgainstHeader(t *testing.T) {
	sizes := map[string]uint64{
		"tee_ioctl_version_data":      uint64(versionSize),
		"tee_ioctl_shm_alloc_data":    uint64(shmAllocSize),
		"tee_ioctl_buf_data":          uint64(bufDataSize),
		"tee_ioctl_param":             uint64(paramSize),
		"tee_ioctl_open_session_arg":  uint64(openArgSize),
		"tee_ioctl_invoke_arg":        uint64(invokeArgSize),
		"tee_ioctl_cancel_arg":        uint64(cancelSize),
		"tee_ioctl_close_session_arg": uint64(closeSessionSize),
		"tee_ioctl_shm_register_data": uint64(shmRegisterSize),
	}
	offsets := map[string]uint64{
		"tee_ioctl_version_data.impl_id":        uint64(offVersionImplID),
		"tee_ioctl_version_data.impl_caps":      uint64(offVersionImplCaps),
		"tee_ioctl_version_data.gen_caps":       uint64(offVersionGenCaps),
		"tee_ioctl_shm_alloc_data.size":         uint64(offShmAllocSize),
		"tee_ioctl_shm_alloc_data.flags":        uint64(offShmAllocFlags),
		"tee_ioctl_shm_alloc_data.id":           uint64(offShmAllocID),
		"tee_ioctl_buf_data.buf_ptr":            uint64(offBufPtr),
		"tee_ioctl_buf_data.buf_len":            uint64(offBufLen),
		"tee_ioctl_param.attr":                  uint64(offParamAttr),
		"tee_ioctl_param.a":                     uint64(offParamA),
		"tee_ioctl_param.b":                     uint64(offParamB),
		"tee_ioctl_param.c":                     uint64(offParamC),
		"tee_ioctl_open_session_arg.uuid":       uint64(offOpenUUID),
		"tee_ioctl_open_session_arg.clnt_uuid":  uint64(offOpenClntUUID),
		"tee_ioctl_open_session_arg.clnt_login": uint64(offOpenClntLogin),
		"tee_ioctl_open_session_arg.cancel_id":  uint64(offOpenCancelID),
		"tee_ioctl_open_session_arg.session":    uint64(offOpenSession),
		"tee_ioctl_open_session_arg.ret":        uint64(offOpenRet),
		"tee_ioctl_open_session_arg.ret_origin": uint64(offOpenRetOrigin),
		"tee_ioctl_open_session_arg.num_params": uint64(offOpenNumParams),
		"tee_ioctl_open_session_arg.params":     uint64(openArgSize), // params follow the header directly
		"tee_ioctl_invoke_arg.func":             uint64(offInvokeFunc),
		"tee_ioctl_invoke_arg.session":          uint64(offInvokeSession),
		"tee_ioctl_invoke_arg.cancel_id":        uint64(offInvokeCancelID),
		"tee_ioctl_invoke_arg.ret":              uint64(offInvokeRet),
		"tee_ioctl_invoke_arg.ret_origin":       uint64(offInvokeRetOrigin),
		"tee_ioctl_invoke_arg.num_params":       uint64(offInvokeNumParams),
		"tee_ioctl_invoke_arg.params":           uint64(invokeArgSize),
		"tee_ioctl_cancel_arg.cancel_id":        uint64(offCancelCancelID),
		"tee_ioctl_cancel_arg.session":          uint64(offCancelSession),
		"tee_ioctl_close_session_arg.session":   uint64(offCloseSession),
		"tee_ioctl_shm_register_data.addr":      uint64(offShmRegisterAddr),
		"tee_ioctl_shm_register_data.length":    uint64(offShmRegisterLength),
		"tee_ioctl_shm_register_data.flags":     uint64(offShmRegisterFlags),
		"tee_ioctl_shm_register_data.id":        uint64(offShmRegisterID),
	}
	consts := map[string]uint64{
		"TEE_IOC_VERSION":                         uint64(iocVersion),
		"TEE_IOC_SHM_ALLOC":                       uint64(iocShmAlloc),
		"TEE_IOC_OPEN_SESSION":                    uint64(iocOpenSession),
		"TEE_IOC_INVOKE":                          uint64(iocInvoke),
		"TEE_IOC_CANCEL":                          uint64(iocCancel),
		"TEE_IOC_CLOSE_SESSION":                   uint64(iocCloseSession),
		"TEE_IOC_SHM_REGISTER":                    uint64(iocShmRegister),
		"TEE_IOC_MAGIC":                           teeIOCMagic,
		"TEE_MAX_ARG_SIZE":                        maxArgSize,
		"TEE_GEN_CAP_GP":                          uint64(teeclient.CapGP),
		"TEE_GEN_CAP_PRIVILEGED":                  uint64(teeclient.CapPrivileged),
		"TEE_GEN_CAP_REG_MEM":                     uint64(teeclient.CapRegMem),
		"TEE_GEN_CAP_MEMREF_NULL":                 uint64(teeclient.CapMemrefNull),
		"TEE_MEMREF_NULL":                         teeclient.MemrefNull,
		"TEE_IMPL_ID_OPTEE":                       uint64(teeclient.ImplOPTEE),
		"TEE_IMPL_ID_AMDTEE":                      uint64(teeclient.ImplAMDTEE),
		"TEE_IMPL_ID_TSTEE":                       uint64(teeclient.ImplTSTEE),
		"TEE_OPTEE_CAP_TZ":                        uint64(opteeCapTZ),
		"TEE_IOCTL_PARAM_ATTR_TYPE_NONE":          uint64(teeclient.AttrNone),
		"TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT":   uint64(teeclient.AttrValueInput),
		"TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_OUTPUT":  uint64(teeclient.AttrValueOutput),
		"TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT":   uint64(teeclient.AttrValueInout),
		"TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT":  uint64(teeclient.AttrMemrefInput),
		"TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT": uint64(teeclient.AttrMemrefOutput),
		"TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT":  uint64(teeclient.AttrMemrefInout),
		"TEE_IOCTL_PARAM_ATTR_TYPE_MASK":          uint64(teeclient.AttrTypeMask),
		"TEE_IOCTL_PARAM_ATTR_META":               uint64(attrMeta),
		"TEE_IOCTL_PARAM_ATTR_MASK":               uint64(attrMask),
		"TEE_IOCTL_LOGIN_PUBLIC":                  uint64(teeclient.LoginPublic),
		"TEE_IOCTL_LOGIN_USER":                    uint64(teeclient.LoginUser),
		"TEE_IOCTL_LOGIN_GROUP":                   uint64(teeclient.LoginGroup),
		"TEE_IOCTL_LOGIN_APPLICATION":             uint64(teeclient.LoginApplication),
		"TEE_IOCTL_LOGIN_USER_APPLICATION":        uint64(teeclient.LoginUserApplication),
		"TEE_IOCTL_LOGIN_GROUP_APPLICATION":       uint64(teeclient.LoginGroupApplication),
		"TEE_IOCTL_UUID_LEN":                      uint64(len(teeclient.UUID{})),
	}
	// Newer than some installed headers (TS-TEE arrived in Linux 6.10).
	optional := map[string]bool{"TEE_IMPL_ID_TSTEE": true}

	for _, tc := range []struct {
		what   string
		goSide map[string]uint64
		cSide  map[string]uint64
	}{
		{"sizeof", sizes, abicheck.Sizes()},
		{"offsetof", offsets, abicheck.Offsets()},
		{"constant", consts, abicheck.Constants()},
	} {
		t.Run(tc.what, func(t *testing.T) {
			for name, c := range tc.cSide {
				g, ok := tc.goSide[name]
				switch {
				case !ok:
					t.Errorf("%s %s: in <linux/tee.h> (%#x) but not checked on the Go side", tc.what, name, c)
				case g != c:
					t.Errorf("%s %s: Go %#x, <linux/tee.h> %#x", tc.what, name, g, c)
				}
			}
			for name := range tc.goSide {
				if _, ok := tc.cSide[name]; !ok {
					if optional[name] {
						t.Logf("%s %s: not in this machine's <linux/tee.h>", tc.what, name)
						continue
					}
					t.Errorf("%s %s: not found in <linux/tee.h>", tc.what, name)
				}
			}
		})
	}
}
