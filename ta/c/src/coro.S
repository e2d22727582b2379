/*
 * coro.S - tzp_coro_switch for aarch64, arm and x86_64 (see coro.h).
 *
 * Each saves the callee-saved registers of its procedure call standard on
 * the current stack, stores the stack pointer in *save (first argument),
 * loads the new one (second argument), restores the registers saved there
 * and returns into that context. tzp_coro_start is where a new coroutine
 * begins (coro_init.c lays out its first frame): it calls fn(arg), which
 * never returns.
 *
 * The frames: aarch64 160 bytes (x19-x28, x29, x30, d8-d15), arm 104 bytes
 * (pad, d8-d15, r4-r11, lr), x86_64 56 bytes (r15, r14, r13, r12, rbx,
 * rbp, return address). Floating-point registers are saved only when the
 * build has them (__ARM_FP); the layout is the same either way.
 */
#if !defined(TZPOSIX_CORO_UCONTEXT)

#if defined(__aarch64__)

#if defined(__ARM_FEATURE_BTI_DEFAULT)
#define LANDING hint #34 /* bti c */
#else
#define LANDING
#endif

	.text
	.p2align 2
	.global tzp_coro_switch
	.type tzp_coro_switch, %function
tzp_coro_switch:
	LANDING
	sub	sp, sp, #160
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
#if defined(__ARM_FP)
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
#endif
	mov	x2, sp
	str	x2, [x0]
	mov	sp, x1
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
#if defined(__ARM_FP)
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
#endif
	add	sp, sp, #160
	ret
	.size tzp_coro_switch, . - tzp_coro_switch

	.global tzp_coro_start
	.type tzp_coro_start, %function
tzp_coro_start:
	LANDING
	mov	x0, x20
	blr	x19
	brk	#1
	.size tzp_coro_start, . - tzp_coro_start

#if defined(__ARM_FEATURE_BTI_DEFAULT)
	/* GNU property note: this object is BTI-compatible. */
	.pushsection .note.gnu.property, "a"
	.p2align 3
	.word 4
	.word 16
	.word 5
	.asciz "GNU"
	.word 0xc0000000
	.word 4
	.word 1
	.word 0
	.popsection
#endif
#elif defined(__arm__)

	.syntax unified
	.text
	.p2align 2
	.global tzp_coro_switch
	.type tzp_coro_switch, %function
tzp_coro_switch:
	push	{r4-r11, lr}
#if defined(__ARM_FP)
	vpush	{d8-d15}
#else
	sub	sp, sp, #64
#endif
	sub	sp, sp, #4
	mov	r2, sp
	str	r2, [r0]
	mov	sp, r1
	add	sp, sp, #4
#if defined(__ARM_FP)
	vpop	{d8-d15}
#else
	add	sp, sp, #64
#endif
	pop	{r4-r11, lr}
	bx	lr
	.size tzp_coro_switch, . - tzp_coro_switch

	.global tzp_coro_start
	.type tzp_coro_start, %function
tzp_coro_start:
	mov	r0, r5
	blx	r4
	bkpt	#0
	.size tzp_coro_start, . - tzp_coro_start

#elif defined(__x86_64__)

	.text
	.p2align 4
	.globl tzp_coro_switch
	.type tzp_coro_switch, @function
tzp_coro_switch:
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size tzp_coro_switch, . - tzp_coro_switch

	.globl tzp_coro_start
	.type tzp_coro_start, @function
tzp_coro_start:
	movq	%r12, %rdi
	callq	*%r13
	ud2
	.size tzp_coro_start, . - tzp_coro_start

#endif
#endif /* !TZPOSIX_CORO_UCONTEXT */

#if defined(__ELF__)
	/* No executable stack. */
	.section .note.GNU-stack, "", %progbits
#endif
