package linuxtee

import (
	"runtime"
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

// TestABIMatchesNotes compares the package's layout and numbers with the
// values recorded in the project's TEE ABI notes (taken from
// <linux/tee.h>), so that a plain `go test` catches drift even where cgo
// and the kernel headers are missing. abi_cgo_test.go checks the same
// against the header itself.
func TestABIMatchesNotes(t *testing.T) {
	sizes := []struct {
		name      string
		got, want int
	}{
		{"tee_ioctl_version_data", versionSize, 12},
		{"tee_ioctl_shm_alloc_data", shmAllocSize, 16},
		{"tee_ioctl_buf_data", bufDataSize, 16},
		{"tee_ioctl_param", paramSize, 32},
		{"tee_ioctl_open_session_arg", openArgSize, 56},
		{"tee_ioctl_invoke_arg", invokeArgSize, 24},
		{"tee_ioctl_cancel_arg", cancelSize, 8},
		{"tee_ioctl_close_session_arg", closeSessionSize, 4},
		{"tee_ioctl_shm_register_data", shmRegisterSize, 24},
		{"TEE_MAX_ARG_SIZE", maxArgSize, 1024},
	}
	for _, s := range sizes {
		if s.got != s.want {
			t.Errorf("sizeof %s = %d, notes say %d", s.name, s.got, s.want)
		}
	}

	consts := []struct {
		name      string
		got, want uint64
	}{
		{"TEE_IOCTL_PARAM_ATTR_TYPE_NONE", uint64(teeclient.AttrNone), 0},
		{"TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INPUT", uint64(teeclient.AttrValueInput), 1},
		{"TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_OUTPUT", uint64(teeclient.AttrValueOutput), 2},
		{"TEE_IOCTL_PARAM_ATTR_TYPE_VALUE_INOUT", uint64(teeclient.AttrValueInout), 3},
		{"TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INPUT", uint64(teeclient.AttrMemrefInput), 5},
		{"TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_OUTPUT", uint64(teeclient.AttrMemrefOutput), 6},
		{"TEE_IOCTL_PARAM_ATTR_TYPE_MEMREF_INOUT", uint64(teeclient.AttrMemrefInout), 7},
		{"TEE_IOCTL_PARAM_ATTR_TYPE_MASK", uint64(teeclient.AttrTypeMask), 0xff},
		{"TEE_IOCTL_PARAM_ATTR_META", uint64(attrMeta), 0x100},
		{"TEE_MEMREF_NULL", teeclient.MemrefNull, 0xffff_ffff_ffff_ffff},
		{"TEE_GEN_CAP_GP", uint64(teeclient.CapGP), 1},
		{"TEE_GEN_CAP_PRIVILEGED", uint64(teeclient.CapPrivileged), 2},
		{"TEE_GEN_CAP_REG_MEM", uint64(teeclient.CapRegMem), 4},
		{"TEE_GEN_CAP_MEMREF_NULL", uint64(teeclient.CapMemrefNull), 8},
		{"TEE_IMPL_ID_OPTEE", uint64(teeclient.ImplOPTEE), 1},
		{"num_params", numParams, 4},
		{"TEE_IOC_MAGIC", teeIOCMagic, 0xa4},
	}
	for _, c := range consts {
		if c.got != c.want {
			t.Errorf("%s = %#x, notes say %#x", c.name, c.got, c.want)
		}
	}

	switch runtime.GOARCH {
	case "mips", "mipsle", "mips64", "mips64le", "ppc", "ppc64", "ppc64le", "sparc", "sparc64":
		t.Logf("%s encodes ioctl requests differently from the notes' table; request numbers not compared", runtime.GOARCH)
		return
	}
	requests := []struct {
		name      string
		got, want uint32
	}{
		{"TEE_IOC_VERSION", iocVersion, 0x800ca400},
		{"TEE_IOC_SHM_ALLOC", iocShmAlloc, 0xc010a401},
		{"TEE_IOC_OPEN_SESSION", iocOpenSession, 0x8010a402},
		{"TEE_IOC_INVOKE", iocInvoke, 0x8010a403},
		{"TEE_IOC_CANCEL", iocCancel, 0x8008a404},
		{"TEE_IOC_CLOSE_SESSION", iocCloseSession, 0x8004a405},
		{"TEE_IOC_SHM_REGISTER", iocShmRegister, 0xc018a409},
	}
	for _, r := range requests {
		if r.got != r.want {
			t.Errorf("%s = %#x, notes say %#x", r.name, r.got, r.want)
		}
		if n := iocName(r.got); n != r.name {
			t.Errorf("iocName(%#x) = %q, want %q", r.got, n, r.name)
		}
	}
}
