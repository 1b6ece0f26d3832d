/* SPDX-License-Identifier: MIT */
/* Context switch for AArch64 (AAPCS64).
 *
 * void ws__coro_switch(void **save_sp, void *load_sp)
 * Saves x19-x30 and d8-d15 (the callee-saved set) in a 176-byte frame. */
    .text
    .globl ws__coro_switch
    .hidden ws__coro_switch
    .type ws__coro_switch, %function
ws__coro_switch:
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mov x2, sp
    str x2, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    ret
    .size ws__coro_switch, .-ws__coro_switch

/* x19 = entry function, x20 = its argument (from the initial frame). */
    .globl ws__coro_trampoline
    .hidden ws__coro_trampoline
    .type ws__coro_trampoline, %function
ws__coro_trampoline:
    mov x0, x20
    blr x19
    brk #0
    .size ws__coro_trampoline, .-ws__coro_trampoline

    .section .note.GNU-stack,"",%progbits
