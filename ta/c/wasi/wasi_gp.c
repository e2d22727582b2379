/*
 * wasi_gp.c - the WASI layer's platform on a TA (wasi.h): clocks and
 * randomness from the secure world's GP API, output to the TA's log.
 *
 * Monotonic is TEE_GetSystemTime (OP-TEE: the secure counter since boot,
 * milliseconds). Realtime is TEE_GetREETime: a TA has no other wall
 * clock, so on a device realtime is the normal world's, as OP-TEE says;
 * the simulator's host build takes both from the host.
 */
#include <tee_internal_api.h>
#include <trace.h>

#include "wasi.h"

uint64_t tzwasi_platform_clock(uint32_t clock)
{
	TEE_Time t;

	if (clock == 0)
		TEE_GetREETime(&t);
	else
		TEE_GetSystemTime(&t);
	return (uint64_t)t.seconds * 1000000000u + (uint64_t)t.millis * 1000000u;
}

void tzwasi_platform_random(void *buf, uint32_t len)
{
	TEE_GenerateRandom(buf, len);
}

/* tzwasi_platform_log writes one line, "stdout: ..." or "stderr: ...",
 * in NUL-terminated pieces (trace_ext_puts takes a C string). */
void tzwasi_platform_log(int stream, const char *line, uint32_t len)
{
	char piece[129];
	uint32_t i, n;

	trace_ext_puts(stream ? "stderr: " : "stdout: ");
	for (i = 0; i < len; i += n) {
		n = len - i < sizeof(piece) - 1 ? len - i : (uint32_t)sizeof(piece) - 1;
		TEE_MemMove(piece, line + i, n);
		piece[n] = 0;
		trace_ext_puts(piece);
	}
	trace_ext_puts("\n");
}
