/* SPDX-License-Identifier: MIT */
/* Context switch for x86-64 System V.
 *
 * void ws__coro_switch(void **save_sp, void *load_sp)
 * Saves the callee-saved registers, MXCSR and the x87 control word on the
 * current stack, stores the stack pointer in *save_sp, then loads load_sp and
 * restores the same set from there. Caller-saved registers need no saving:
 * the call itself tells the compiler they are clobbered. */
    .text
    .globl ws__coro_switch
    .hidden ws__coro_switch
    .type ws__coro_switch, @function
ws__coro_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ws__coro_switch, .-ws__coro_switch

/* First return target of a new coroutine: r12 holds the entry function,
 * r13 its argument (placed there by the initial frame). The entry never
 * returns; ud2 traps if it ever did. */
    .globl ws__coro_trampoline
    .hidden ws__coro_trampoline
    .type ws__coro_trampoline, @function
ws__coro_trampoline:
    movq %r13, %rdi
    callq *%r12
    ud2
    .size ws__coro_trampoline, .-ws__coro_trampoline

    .section .note.GNU-stack,"",@progbits
