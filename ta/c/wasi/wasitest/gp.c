/* gp.c - TEE_Malloc and TEE_Free for the WASI layer under test. */
#include <stdlib.h>
#include <string.h>

#include <tee_internal_api.h>

void *TEE_Malloc(size_t size, uint32_t hint)
{
	void *p = malloc(size ? size : 1);

	if (p && !(hint & TEE_USER_MEM_HINT_NO_FILL_ZERO))
		memset(p, 0, size ? size : 1);
	return p;
}

void TEE_Free(void *p)
{
	free(p);
}
