/*
 * entry.c - the GP entry points of a libtzposix TA and the reverse call
 * loop on the TA side (docs/protocol.md section 1).
 *
 * Each session runs the TA's main on a coroutine stack of its own. RESUME
 * switches into it; a POSIX call writes its request into the mailbox and
 * switches back, so that RESUME returns TEE_SUCCESS with the request
 * waiting; the next RESUME carries the response and switches in again,
 * where the call continues by checking it. TA code never runs between two
 * RESUMEs, and the mailbox pointer is renewed at each one (OP-TEE may map
 * the memref elsewhere each time).
 */
/* proc.h first: it brings in tzposix/posix.h without the POSIX macros,
 * before any OP-TEE header could pull in a compat header with them. */
#include "proc.h"

#include <tee_internal_api.h>

#include <tzposix/tzposix.h>

#include "coro.h"

#ifndef TZPOSIX_STACK_SIZE
#define TZPOSIX_STACK_SIZE (64 * 1024)
#endif
#ifndef TZPOSIX_MAX_FDS
#define TZPOSIX_MAX_FDS 256
#endif

/* The descriptor table has twice as many slots as descriptors. */
#define FD_SLOTS_MIN (2 * TZPOSIX_MAX_FDS)
#define STACK_CANARY 0x5a17c0de7a57ac0fULL

enum { S_NEW, S_RUNNING, S_DONE };

struct session {
	struct tzp_proc proc;
	int state;
	int strict;
	void *ta_ctx;    /* the coroutine, while suspended */
	void *entry_ctx; /* the entry point, while the coroutine runs */
	uint8_t *stack;
	struct tzp_fdslot *slots;
	uint8_t *bufs; /* poll_req, then priv, then the read-ahead pool */
};

/* The coroutine's stack. On the host, its own mapping with a guard page
 * below (host/stack.c): an overflow faults at once. OP-TEE gives a TA no
 * way to change the protection of its pages (the GP Internal Core API
 * has no mprotect; only ldelf sets protections, through the system PTA),
 * so there the stack comes from the TA heap and the canary at its bottom
 * catches an overflow when the coroutine switches back. */
#ifdef TZPOSIX_HOST
#define stack_alloc tzp_host_stack_alloc
#define stack_free tzp_host_stack_free
#else
static void *stack_alloc(size_t size)
{
	return TEE_Malloc(size, TEE_MALLOC_FILL_ZERO);
}

static void stack_free(void *stack, size_t size)
{
	(void)size;
	TEE_Free(stack);
}
#endif

static uint32_t fd_slots(void)
{
	uint32_t n = 1;

	while (n < FD_SLOTS_MIN)
		n <<= 1;
	return n;
}

static void check_stack(struct session *s)
{
	uint64_t c;

	TEE_MemMove(&c, s->stack, sizeof(c));
	if (c != STACK_CANARY)
		TEE_Panic(TEE_ERROR_SECURITY); /* the TA overflowed its stack */
}

/* exchange runs on the coroutine: hand the mailbox to the shadow (RESUME
 * returns) and continue when the next RESUME brings the response. */
static int exchange(struct tzp_proc *p)
{
	struct session *s = p->owner;

	tzp_coro_switch(&s->ta_ctx, s->entry_ctx);
	return s->state == S_RUNNING ? 0 : -1;
}

static void violated(struct tzp_proc *p, int rule)
{
	struct session *s = p->owner;

	(void)rule;
	if (s->strict)
		TEE_Panic(TEE_ERROR_SECURITY);
}

void tzposix_exit(int status)
{
	struct tzp_proc *p = tzp_proc_current;
	struct session *s;

	/* This function is noreturn and TEE_Panic is not declared so
	 * (OP-TEE's tee_api.h): the loops tell the compiler that nothing
	 * comes after a panic. */
	if (p == NULL)
		for (;;)
			TEE_Panic(TEE_ERROR_BAD_STATE); /* exit outside a session's program */
	s = p->owner;
	tzp_proc_exit(p, status);
	s->state = S_DONE;
	tzp_coro_switch(&s->ta_ctx, s->entry_ctx);
	/* Never resumed: RESUME after EXIT is BAD_STATE. */
	for (;;)
		TEE_Panic(TEE_ERROR_BAD_STATE);
}

static void program(void *arg)
{
	(void)arg;
	tzposix_exit(tzposix_main());
}

uint64_t tzposix_violations(void)
{
	return tzp_proc_current ? tzp_proc_current->violations : 0;
}

void tzposix_set_strict(int strict)
{
	if (tzp_proc_current)
		((struct session *)tzp_proc_current->owner)->strict = strict;
}

TEE_Result TA_CreateEntryPoint(void)
{
	return TEE_SUCCESS;
}

void TA_DestroyEntryPoint(void)
{
}

static void free_session(struct session *s)
{
	stack_free(s->stack, TZPOSIX_STACK_SIZE);
	TEE_Free(s->slots);
	TEE_Free(s->bufs);
	TEE_Free(s);
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t types, TEE_Param params[TEE_NUM_PARAMS],
				    void **ctx)
{
	struct session *s;
	uint64_t canary = STACK_CANARY;
	uint32_t nslots = fd_slots();

	if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE,
				     TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
		return TEE_ERROR_BAD_PARAMETERS;
	if (params[0].value.a != TZP_VERSION)
		return TEE_ERROR_NOT_SUPPORTED;
	if (params[0].value.b < TZP_MIN_MAILBOX)
		return TEE_ERROR_BAD_PARAMETERS;

	s = TEE_Malloc(sizeof(*s), TEE_MALLOC_FILL_ZERO);
	if (s == NULL)
		return TEE_ERROR_OUT_OF_MEMORY;
	s->stack = stack_alloc(TZPOSIX_STACK_SIZE);
	s->slots = TEE_Malloc(nslots * sizeof(struct tzp_fdslot), TEE_MALLOC_FILL_ZERO);
	s->bufs = TEE_Malloc(2 * TZP_PRIV_SIZE + TZP_RA_POOL_SIZE, TEE_MALLOC_FILL_ZERO);
	if (s->stack == NULL || s->slots == NULL || s->bufs == NULL) {
		free_session(s);
		return TEE_ERROR_OUT_OF_MEMORY;
	}
	TEE_MemMove(s->stack, &canary, sizeof(canary));
	tzp_proc_init(&s->proc, params[0].value.b, s->slots, nslots, s->bufs,
		      s->bufs + TZP_PRIV_SIZE,
		      TZP_RA_POOL_SIZE > 0 ? s->bufs + 2 * TZP_PRIV_SIZE : NULL);
	s->proc.exchange = exchange;
	s->proc.violated = violated;
	s->proc.owner = s;
	s->state = S_NEW;
	*ctx = s;
	return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *ctx)
{
	struct session *s = ctx;

	if (s == NULL)
		return;
	/* A program suspended in a call is abandoned with its stack: its
	 * descriptors live in the shadow, which closes them. */
	free_session(s);
}

TEE_Result TA_InvokeCommandEntryPoint(void *ctx, uint32_t cmd, uint32_t types,
				      TEE_Param params[TEE_NUM_PARAMS])
{
	struct session *s = ctx;

	if (s == NULL)
		return TEE_ERROR_BAD_STATE;
	/* The null call: answered here, never reaching the program. */
	if (cmd == TZP_CMD_NULL)
		return types == TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE,
						TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE) ?
			       TEE_SUCCESS :
			       TEE_ERROR_BAD_PARAMETERS;
	if (cmd != TZP_CMD_RESUME)
		return TEE_ERROR_NOT_SUPPORTED;
	if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INOUT, TEE_PARAM_TYPE_NONE,
				     TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE) ||
	    params[0].memref.buffer == NULL || params[0].memref.size != s->proc.mbsize)
		return TEE_ERROR_BAD_PARAMETERS;
	if (s->state == S_DONE || tzp_proc_current != NULL)
		return TEE_ERROR_BAD_STATE;

	s->proc.mb = params[0].memref.buffer;
	if (s->state == S_NEW) {
		/* The first 16 bytes hold the canary. */
		s->ta_ctx = tzp_coro_init(s->stack + 16, TZPOSIX_STACK_SIZE - 16, program, s);
		if (s->ta_ctx == NULL)
			return TEE_ERROR_OUT_OF_MEMORY;
		s->state = S_RUNNING;
	}
	tzp_proc_current = &s->proc;
	tzp_coro_switch(&s->entry_ctx, s->ta_ctx);
	tzp_proc_current = NULL;
	s->proc.mb = NULL;
	check_stack(s);
	return TEE_SUCCESS;
}
