package linuxtee

import (
	"unsafe"

	"github.com/tzmediator/tzbridge/teeclient"
)

// Mirrors of the <linux/tee.h> structures. They are never handed to the
// kernel as Go values: the codec writes byte images at these fields'
// offsets, so these declarations are the one place the layout is written
// down, and abi_cgo_test.go compares them with the C header. Every field is
// a fixed-size integer and the C structures have no padding, so the layout
// is the same on 32- and 64-bit targets (checked at compile time below).

type versionData struct { // struct tee_ioctl_version_data
	ImplID   uint32
	ImplCaps uint32
	GenCaps  uint32
}

type shmAllocData struct { // struct tee_ioctl_shm_alloc_data
	Size  uint64
	Flags uint32
	ID    int32
}

type bufData struct { // struct tee_ioctl_buf_data
	BufPtr uint64
	BufLen uint64
}

type ioctlParam struct { // struct tee_ioctl_param
	Attr uint64
	A    uint64
	B    uint64
	C    uint64
}

type openSessionArg struct { // struct tee_ioctl_open_session_arg, without params[]
	UUID      [16]byte
	ClntUUID  [16]byte
	ClntLogin uint32
	CancelID  uint32
	Session   uint32
	Ret       uint32
	RetOrigin uint32
	NumParams uint32
}

type invokeArg struct { // struct tee_ioctl_invoke_arg, without params[]
	Func      uint32
	Session   uint32
	CancelID  uint32
	Ret       uint32
	RetOrigin uint32
	NumParams uint32
}

type cancelArg struct { // struct tee_ioctl_cancel_arg
	CancelID uint32
	Session  uint32
}

type closeSessionArg struct { // struct tee_ioctl_close_session_arg
	Session uint32
}

type shmRegisterData struct { // struct tee_ioctl_shm_register_data
	Addr   uint64
	Length uint64
	Flags  uint32
	ID     int32
}

// Sizes of the argument images and of the buffers OPEN_SESSION and INVOKE
// point at: the argument structure followed directly by its parameters.
const (
	versionSize      = int(unsafe.Sizeof(versionData{}))
	shmAllocSize     = int(unsafe.Sizeof(shmAllocData{}))
	bufDataSize      = int(unsafe.Sizeof(bufData{}))
	paramSize        = int(unsafe.Sizeof(ioctlParam{}))
	openArgSize      = int(unsafe.Sizeof(openSessionArg{}))
	invokeArgSize    = int(unsafe.Sizeof(invokeArg{}))
	cancelSize       = int(unsafe.Sizeof(cancelArg{}))
	closeSessionSize = int(unsafe.Sizeof(closeSessionArg{}))
	shmRegisterSize  = int(unsafe.Sizeof(shmRegisterData{}))

	numParams     = teeclient.NumParams
	openBufSize   = openArgSize + numParams*paramSize
	invokeBufSize = invokeArgSize + numParams*paramSize

	// maxArgSize is TEE_MAX_ARG_SIZE: the kernel refuses larger buffers.
	maxArgSize = 1024
)

// The C structures are padding-free; these fail to compile on a target
// where the Go mirror would lay out differently (e.g. 4-byte uint64
// alignment on 32-bit arm leaving a hole the kernel does not have).
var (
	_ [versionSize - 12]struct{}     = [0]struct{}{}
	_ [shmAllocSize - 16]struct{}    = [0]struct{}{}
	_ [bufDataSize - 16]struct{}     = [0]struct{}{}
	_ [paramSize - 32]struct{}       = [0]struct{}{}
	_ [openArgSize - 56]struct{}     = [0]struct{}{}
	_ [invokeArgSize - 24]struct{}   = [0]struct{}{}
	_ [cancelSize - 8]struct{}       = [0]struct{}{}
	_ [closeSessionSize - 4]struct{} = [0]struct{}{}
	_ [shmRegisterSize - 24]struct{} = [0]struct{}{}
	_ [maxArgSize - openBufSize]byte // both buffers fit the kernel's limit
	_ [maxArgSize - invokeBufSize]byte
)

// Field offsets the codec uses.
const (
	offVersionImplID   = int(unsafe.Offsetof(versionData{}.ImplID))
	offVersionImplCaps = int(unsafe.Offsetof(versionData{}.ImplCaps))
	offVersionGenCaps  = int(unsafe.Offsetof(versionData{}.GenCaps))

	offShmAllocSize  = int(unsafe.Offsetof(shmAllocData{}.Size))
	offShmAllocFlags = int(unsafe.Offsetof(shmAllocData{}.Flags))
	offShmAllocID    = int(unsafe.Offsetof(shmAllocData{}.ID))

	offBufPtr = int(unsafe.Offsetof(bufData{}.BufPtr))
	offBufLen = int(unsafe.Offsetof(bufData{}.BufLen))

	offParamAttr = int(unsafe.Offsetof(ioctlParam{}.Attr))
	offParamA    = int(unsafe.Offsetof(ioctlParam{}.A))
	offParamB    = int(unsafe.Offsetof(ioctlParam{}.B))
	offParamC    = int(unsafe.Offsetof(ioctlParam{}.C))

	offOpenUUID      = int(unsafe.Offsetof(openSessionArg{}.UUID))
	offOpenClntUUID  = int(unsafe.Offsetof(openSessionArg{}.ClntUUID))
	offOpenClntLogin = int(unsafe.Offsetof(openSessionArg{}.ClntLogin))
	offOpenCancelID  = int(unsafe.Offsetof(openSessionArg{}.CancelID))
	offOpenSession   = int(unsafe.Offsetof(openSessionArg{}.Session))
	offOpenRet       = int(unsafe.Offsetof(openSessionArg{}.Ret))
	offOpenRetOrigin = int(unsafe.Offsetof(openSessionArg{}.RetOrigin))
	offOpenNumParams = int(unsafe.Offsetof(openSessionArg{}.NumParams))

	offInvokeFunc      = int(unsafe.Offsetof(invokeArg{}.Func))
	offInvokeSession   = int(unsafe.Offsetof(invokeArg{}.Session))
	offInvokeCancelID  = int(unsafe.Offsetof(invokeArg{}.CancelID))
	offInvokeRet       = int(unsafe.Offsetof(invokeArg{}.Ret))
	offInvokeRetOrigin = int(unsafe.Offsetof(invokeArg{}.RetOrigin))
	offInvokeNumParams = int(unsafe.Offsetof(invokeArg{}.NumParams))

	offCancelCancelID = int(unsafe.Offsetof(cancelArg{}.CancelID))
	offCancelSession  = int(unsafe.Offsetof(cancelArg{}.Session))

	offCloseSession = int(unsafe.Offsetof(closeSessionArg{}.Session))

	offShmRegisterAddr   = int(unsafe.Offsetof(shmRegisterData{}.Addr))
	offShmRegisterLength = int(unsafe.Offsetof(shmRegisterData{}.Length))
	offShmRegisterFlags  = int(unsafe.Offsetof(shmRegisterData{}.Flags))
	offShmRegisterID     = int(unsafe.Offsetof(shmRegisterData{}.ID))
)

// Parameter attribute bits beyond the type (TEE_IOCTL_PARAM_ATTR_META and
// TEE_IOCTL_PARAM_ATTR_MASK). META is the supplicant's; a client never sets it.
const (
	attrMeta teeclient.Attr = 0x100
	attrMask                = teeclient.AttrTypeMask | attrMeta
)

// optee impl_caps bit (TEE_OPTEE_CAP_TZ): OP-TEE runs in TrustZone.
const opteeCapTZ uint32 = 1 << 0

// ioctl request numbers, encoded as _IOR/_IOWR in <asm-generic/ioctl.h>
// (or the architecture's own ioctl.h, see ioc_*.go) with TEE_IOC_MAGIC.
const (
	teeIOCMagic = 0xa4

	iocVersion      = iocRead<<iocDirShift | uint32(versionSize)<<iocSizeShift | teeIOCMagic<<iocTypeShift | 0
	iocShmAlloc     = (iocRead|iocWrite)<<iocDirShift | uint32(shmAllocSize)<<iocSizeShift | teeIOCMagic<<iocTypeShift | 1
	iocOpenSession  = iocRead<<iocDirShift | uint32(bufDataSize)<<iocSizeShift | teeIOCMagic<<iocTypeShift | 2
	iocInvoke       = iocRead<<iocDirShift | uint32(bufDataSize)<<iocSizeShift | teeIOCMagic<<iocTypeShift | 3
	iocCancel       = iocRead<<iocDirShift | uint32(cancelSize)<<iocSizeShift | teeIOCMagic<<iocTypeShift | 4
	iocCloseSession = iocRead<<iocDirShift | uint32(closeSessionSize)<<iocSizeShift | teeIOCMagic<<iocTypeShift | 5
	iocShmRegister  = (iocRead|iocWrite)<<iocDirShift | uint32(shmRegisterSize)<<iocSizeShift | teeIOCMagic<<iocTypeShift | 9

	iocTypeShift = 8
	iocSizeShift = 16
)

// iocName names a request for error messages.
func iocName(req uint32) string {
	switch req {
	case iocVersion:
		return "TEE_IOC_VERSION"
	case iocShmAlloc:
		return "TEE_IOC_SHM_ALLOC"
	case iocOpenSession:
		return "TEE_IOC_OPEN_SESSION"
	case iocInvoke:
		return "TEE_IOC_INVOKE"
	case iocCancel:
		return "TEE_IOC_CANCEL"
	case iocCloseSession:
		return "TEE_IOC_CLOSE_SESSION"
	case iocShmRegister:
		return "TEE_IOC_SHM_REGISTER"
	}
	return "TEE ioctl"
}

// takesBufData reports whether req's argument is a tee_ioctl_buf_data that
// points at the real argument rather than the argument itself.
func takesBufData(req uint32) bool { return req == iocOpenSession || req == iocInvoke }

// returnsFD reports whether req answers with a new file descriptor.
func returnsFD(req uint32) bool { return req == iocShmAlloc || req == iocShmRegister }
