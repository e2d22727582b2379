// Package gp holds the GlobalPlatform TEE vocabulary that both worlds
// share: TA identities (UUID), result codes and their origins, login
// methods, and parameters in their raw form. It imports nothing of the
// project, so that the simulated secure world (securesim and the TAs under
// ta/) and the normal-world client (teeclient) can both depend on it
// without depending on each other.
//
// The values come from these specifications and headers:
//
//   - GlobalPlatform TEE Client API Specification (GPD_SPE_007),
//     tee_client_api.h: TEEC_Result codes (TEEC_SUCCESS, TEEC_ERROR_*),
//     return origins (TEEC_ORIGIN_*), login methods (TEEC_LOGIN_*) and
//     TEEC_UUID.
//   - GlobalPlatform TEE Internal Core API Specification (GPD_SPE_010),
//     tee_api_defines.h: the same result codes and origins as TEE_Result
//     (TEE_SUCCESS, TEE_ERROR_*, TEE_ORIGIN_*), TEE_ERROR_EXTERNAL_CANCEL,
//     and the parameter types a TA sees (TEE_PARAM_TYPE_*).
//   - The Linux TEE subsystem, <linux/tee.h>: struct tee_ioctl_param, its
//     type attribute (TEE_IOCTL_PARAM_ATTR_TYPE_*), which numbers parameter
//     types as TEE_PARAM_TYPE_* does, and TEE_MEMREF_NULL.
//
// The Client API's own parameter types (TEEC_VALUE_*, TEEC_MEMREF_*) and
// its error type stay in teeclient: only the normal world uses them.
package gp
