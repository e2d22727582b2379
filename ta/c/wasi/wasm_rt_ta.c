/*
 * wasm_rt_ta.c - the wasm2c runtime (wasm-rt.h of wabt 1.0.32) for a TA:
 * in place of wabt's wasm-rt-impl.c, which reserves 8 GiB of address space
 * with mmap for guard pages, catches SIGSEGV and prints with stdio; a TA
 * has none of that. Here:
 *
 *   - memory is TEE_Malloc'd at its current size and grown by copying;
 *     the generated code is compiled with WASM_RT_MEMCHECK_SIGNAL_HANDLER=0,
 *     so every load and store checks its bounds explicitly;
 *   - the call depth is counted (WASM_RT_USE_STACK_DEPTH_COUNT, implied by
 *     the above), so that exhausting it is a trap, not a stack overflow;
 *   - a trap logs its reason and panics the TA (TEE_Panic): the CA's
 *     session sees TEE_ERROR_TARGET_DEAD, on OP-TEE as in the simulator;
 *   - memory.grow past the cap wasm2ta built in (tzwasi_max_pages) fails.
 *
 * Exceptions (--enable-exceptions) are not supported: wasm2ta does not
 * enable them, so no generated code calls those functions.
 */
#include <stdarg.h>

#include <tee_internal_api.h>
#include <trace.h>

#include "wasm-rt.h"
#include "wasm_rt_ta.h"

#if WASM_RT_MEMCHECK_SIGNAL_HANDLER
#error "build with -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0: a TA has no guard pages"
#endif

#define PAGE_SIZE 65536u

uint32_t wasm_rt_call_stack_depth;

struct func_type {
	uint32_t params, results;
	wasm_rt_type_t *types; /* params, then results */
};

static struct func_type *func_types;
static uint32_t func_type_count;
static bool initialized;

void wasm_rt_init(void)
{
	initialized = true;
	wasm_rt_call_stack_depth = 0;
}

bool wasm_rt_is_initialized(void)
{
	return initialized;
}

void wasm_rt_free(void)
{
	uint32_t i;

	for (i = 0; i < func_type_count; i++)
		TEE_Free(func_types[i].types);
	TEE_Free(func_types);
	func_types = NULL;
	func_type_count = 0;
	initialized = false;
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
	switch (trap) {
	case WASM_RT_TRAP_NONE:
		return "no error";
	case WASM_RT_TRAP_OOB:
		return "out-of-bounds access in linear memory or a table";
#if !WASM_RT_MERGED_OOB_AND_EXHAUSTION_TRAPS
	case WASM_RT_TRAP_EXHAUSTION:
		return "call stack exhausted";
#endif
	case WASM_RT_TRAP_INT_OVERFLOW:
		return "integer overflow on divide or truncation";
	case WASM_RT_TRAP_DIV_BY_ZERO:
		return "integer divide by zero";
	case WASM_RT_TRAP_INVALID_CONVERSION:
		return "conversion from NaN to integer";
	case WASM_RT_TRAP_UNREACHABLE:
		return "unreachable instruction executed";
	case WASM_RT_TRAP_CALL_INDIRECT:
		return "invalid call_indirect";
	case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
		return "uncaught exception";
	default:
		return "invalid trap code";
	}
}

void wasm_rt_trap(wasm_rt_trap_t code)
{
	trace_ext_puts("wasm trap: ");
	trace_ext_puts(wasm_rt_strerror(code));
	trace_ext_puts("\n");
	/* wasm-rt.h declares this noreturn and OP-TEE does not declare
	 * TEE_Panic so: the loop tells the compiler nothing follows. */
	for (;;)
		TEE_Panic(TEE_ERROR_TARGET_DEAD);
}

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
	struct func_type *grown;
	wasm_rt_type_t *types;
	uint32_t i, j, n = params + results;
	va_list ap;

	types = TEE_Malloc((n ? n : 1) * sizeof(*types), TEE_MALLOC_FILL_ZERO);
	if (!types)
		TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
	va_start(ap, results);
	for (i = 0; i < n; i++)
		types[i] = (wasm_rt_type_t)va_arg(ap, int);
	va_end(ap);
	for (i = 0; i < func_type_count; i++) {
		if (func_types[i].params != params || func_types[i].results != results)
			continue;
		for (j = 0; j < n && func_types[i].types[j] == types[j]; j++)
			;
		if (j == n) {
			TEE_Free(types);
			return i + 1;
		}
	}
	grown = TEE_Malloc((func_type_count + 1) * sizeof(*grown), TEE_MALLOC_FILL_ZERO);
	if (!grown)
		TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
	for (i = 0; i < func_type_count; i++)
		grown[i] = func_types[i];
	TEE_Free(func_types);
	func_types = grown;
	func_types[func_type_count].params = params;
	func_types[func_type_count].results = results;
	func_types[func_type_count].types = types;
	return ++func_type_count;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages)
{
	if (max_pages > tzwasi_max_pages)
		max_pages = tzwasi_max_pages;
	if (initial_pages > max_pages) {
		trace_ext_puts("wasm: the module's initial memory exceeds the TA's cap\n");
		TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
	}
	memory->data = TEE_Malloc((size_t)initial_pages * PAGE_SIZE + 1, TEE_MALLOC_FILL_ZERO);
	if (!memory->data) {
		trace_ext_puts("wasm: no heap for the module's initial memory\n");
		TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);
	}
	memory->size = initial_pages * PAGE_SIZE;
	memory->pages = initial_pages;
	memory->max_pages = max_pages;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta)
{
	uint32_t old = memory->pages;
	uint64_t pages = (uint64_t)old + delta;
	uint8_t *data;

	if (delta == 0)
		return old;
	if (pages > memory->max_pages)
		return (uint32_t)-1;
	/* No realloc in GP: a new block, then the copy; the peak is both. */
	data = TEE_Malloc((size_t)pages * PAGE_SIZE, TEE_MALLOC_FILL_ZERO);
	if (!data)
		return (uint32_t)-1;
	TEE_MemMove(data, memory->data, memory->size);
	TEE_Free(memory->data);
	memory->data = data;
	memory->pages = (uint32_t)pages;
	memory->size = (uint32_t)pages * PAGE_SIZE;
	return old;
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory)
{
	TEE_Free(memory->data);
	memory->data = NULL;
	memory->size = memory->pages = 0;
}

#define TABLE_OPS(type)                                                                     \
	void wasm_rt_allocate_##type##_table(wasm_rt_##type##_table_t *table, uint32_t elems, \
					     uint32_t max_elems)                             \
	{                                                                                   \
		table->size = elems;                                                        \
		table->max_size = max_elems;                                                \
		table->data = TEE_Malloc((elems ? elems : 1) * sizeof(wasm_rt_##type##_t),  \
					 TEE_MALLOC_FILL_ZERO);                             \
		if (!table->data)                                                           \
			TEE_Panic(TEE_ERROR_OUT_OF_MEMORY);                                 \
	}                                                                                   \
	void wasm_rt_free_##type##_table(wasm_rt_##type##_table_t *table)                   \
	{                                                                                   \
		TEE_Free(table->data);                                                      \
		table->data = NULL;                                                         \
	}                                                                                   \
	uint32_t wasm_rt_grow_##type##_table(wasm_rt_##type##_table_t *table, uint32_t delta, \
					     wasm_rt_##type##_t init)                        \
	{                                                                                   \
		uint32_t old = table->size, i;                                              \
		uint64_t n = (uint64_t)old + delta;                                         \
		wasm_rt_##type##_t *data;                                                   \
		if (delta == 0)                                                             \
			return old;                                                         \
		if (n > table->max_size)                                                    \
			return (uint32_t)-1;                                                \
		data = TEE_Malloc((size_t)n * sizeof(*data), TEE_MALLOC_FILL_ZERO);         \
		if (!data)                                                                  \
			return (uint32_t)-1;                                                \
		for (i = 0; i < old; i++)                                                   \
			data[i] = table->data[i];                                           \
		for (i = old; i < n; i++)                                                   \
			data[i] = init;                                                     \
		TEE_Free(table->data);                                                      \
		table->data = data;                                                         \
		table->size = (uint32_t)n;                                                  \
		return old;                                                                 \
	}

TABLE_OPS(funcref)
TABLE_OPS(externref)
