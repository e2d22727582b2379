/*
 * tee_internal_api.h - SUBSET of the GlobalPlatform TEE Internal Core API.
 *
 * This is NOT OP-TEE's header. It declares only what libtzposix, its host
 * shim and the example TAs use, with the same names, types and values as
 * the GP specification and OP-TEE's lib/libutee/include (tee_api_types.h,
 * tee_api_defines.h, tee_api.h, tee_ta_api.h). It serves two purposes:
 *
 *   - building a TA for the host, where ta/c/host/host_main.c implements
 *     these functions and drives the entry points for the tzbridge simulator;
 *   - the cross-compile check (ta/c/cross-check.sh), which compiles the
 *     library for aarch64 and arm without an OP-TEE tree.
 *
 * A real TA build for OP-TEE uses the TA dev kit's headers instead
 * (TA_DEV_KIT_DIR/include) and never sees this directory.
 */
#ifndef TEE_INTERNAL_API_H
#define TEE_INTERNAL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t TEE_Result;

typedef struct {
	uint32_t timeLow;
	uint16_t timeMid;
	uint16_t timeHiAndVersion;
	uint8_t clockSeqAndNode[8];
} TEE_UUID;

typedef union {
	struct {
		void *buffer;
		size_t size;
	} memref;
	struct {
		uint32_t a;
		uint32_t b;
	} value;
} TEE_Param;

#define TEE_NUM_PARAMS 4

#define TEE_SUCCESS 0x00000000
#define TEE_ERROR_GENERIC 0xFFFF0000
#define TEE_ERROR_ACCESS_DENIED 0xFFFF0001
#define TEE_ERROR_CANCEL 0xFFFF0002
#define TEE_ERROR_BAD_FORMAT 0xFFFF0005
#define TEE_ERROR_BAD_PARAMETERS 0xFFFF0006
#define TEE_ERROR_BAD_STATE 0xFFFF0007
#define TEE_ERROR_ITEM_NOT_FOUND 0xFFFF0008
#define TEE_ERROR_NOT_IMPLEMENTED 0xFFFF0009
#define TEE_ERROR_NOT_SUPPORTED 0xFFFF000A
#define TEE_ERROR_OUT_OF_MEMORY 0xFFFF000C
#define TEE_ERROR_BUSY 0xFFFF000D
#define TEE_ERROR_COMMUNICATION 0xFFFF000E
#define TEE_ERROR_SECURITY 0xFFFF000F
#define TEE_ERROR_SHORT_BUFFER 0xFFFF0010
#define TEE_ERROR_TARGET_DEAD 0xFFFF3024

#define TEE_PARAM_TYPE_NONE 0x0
#define TEE_PARAM_TYPE_VALUE_INPUT 0x1
#define TEE_PARAM_TYPE_VALUE_OUTPUT 0x2
#define TEE_PARAM_TYPE_VALUE_INOUT 0x3
#define TEE_PARAM_TYPE_MEMREF_INPUT 0x5
#define TEE_PARAM_TYPE_MEMREF_OUTPUT 0x6
#define TEE_PARAM_TYPE_MEMREF_INOUT 0x7

#define TEE_PARAM_TYPES(t0, t1, t2, t3) \
	((t0) | ((t1) << 4) | ((t2) << 8) | ((t3) << 12))
#define TEE_PARAM_TYPE_GET(t, i) ((((uint32_t)t) >> ((i) * 4)) & 0xF)

#define TEE_MALLOC_FILL_ZERO 0x00000000
#define TEE_USER_MEM_HINT_NO_FILL_ZERO 0x80000000

/* Trusted Core Framework functions (tee_api.h). */
/* Not noreturn: OP-TEE declares it `void TEE_Panic(TEE_Result panicCode);`,
 * so code that must not go on after a panic cannot count on the compiler
 * knowing that it does not return. */
void TEE_Panic(TEE_Result panicCode);
void *TEE_Malloc(size_t size, uint32_t hint);
void TEE_Free(void *buffer);
void TEE_MemMove(void *dest, const void *src, size_t size);
void TEE_MemFill(void *buff, uint32_t x, size_t size);
bool TEE_GetCancellationFlag(void);
bool TEE_UnmaskCancellation(void);
bool TEE_MaskCancellation(void);

/* Time and randomness (tee_api.h, tee_api_types.h): the WASI layer's
 * clocks and random_get (ta/c/wasi). */
typedef struct {
	uint32_t seconds;
	uint32_t millis;
} TEE_Time;
void TEE_GetSystemTime(TEE_Time *time);
void TEE_GetREETime(TEE_Time *time);
void TEE_GenerateRandom(void *randomBuffer, size_t randomBufferLen);

/* Entry points every TA provides (tee_ta_api.h). */
TEE_Result TA_CreateEntryPoint(void);
void TA_DestroyEntryPoint(void);
TEE_Result TA_OpenSessionEntryPoint(uint32_t paramTypes,
				    TEE_Param params[TEE_NUM_PARAMS],
				    void **sessionContext);
void TA_CloseSessionEntryPoint(void *sessionContext);
TEE_Result TA_InvokeCommandEntryPoint(void *sessionContext, uint32_t commandID,
				      uint32_t paramTypes,
				      TEE_Param params[TEE_NUM_PARAMS]);

#ifdef __cplusplus
}
#endif

#endif /* TEE_INTERNAL_API_H */
