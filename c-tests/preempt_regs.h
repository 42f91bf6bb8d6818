/*
 * preempt_regs.h: a loop that holds known values in every register a preemption
 * must save and checks them on each iteration, for the asynchronous-preemption tests
 * and bench (x86-64, AVX).
 *
 *   long preempt_reg_loop(volatile long *stop_at, long want, const void *pattern);
 *
 * Loads rax..r15 (but rsp, rdi, rsi, rdx, which hold the arguments and stay
 * checked through copies), ymm0-15 from `pattern` (16 x 32 bytes), three values on
 * the x87 stack, an x87 control word of 0x027f, an MXCSR of 0x9fc0 (flush-to-zero,
 * denormals-are-zero), the direction flag set, and four known words in the red zone
 * below rsp; then spins, checking everything, until *stop_at >= want, without a
 * single call. Returns 0 if every value survived, else a code naming what changed:
 *   1..11   a general register (rbx, rcx, rbp, r8..r15 in that order)
 *   12      an argument copy (rdi, rsi, rdx) or the red zone
 *   13      the direction flag
 *   20+i    ymm i
 *   40      the x87 stack   41  the x87 control word   42  MXCSR
 * It also returns how many loop iterations it made through *iters (for the bench).
 */
#ifndef MRT_PREEMPT_REGS_H
#define MRT_PREEMPT_REGS_H

long preempt_reg_loop(volatile long *stop_at, long want, const void *pattern,
                      long *iters);

#define PR_V(i) "0x5a5a00000000" #i "a5"

__asm__(
    "        .text\n"
    "        .globl  preempt_reg_loop\n"
    "        .type   preempt_reg_loop, @function\n"
    "preempt_reg_loop:\n"
    "        .cfi_startproc\n"
    "        pushq   %rbp\n        .cfi_adjust_cfa_offset 8\n"
    "        pushq   %rbx\n        .cfi_adjust_cfa_offset 8\n"
    "        pushq   %r12\n        .cfi_adjust_cfa_offset 8\n"
    "        pushq   %r13\n        .cfi_adjust_cfa_offset 8\n"
    "        pushq   %r14\n        .cfi_adjust_cfa_offset 8\n"
    "        pushq   %r15\n        .cfi_adjust_cfa_offset 8\n"
    "        pushq   %rcx\n        .cfi_adjust_cfa_offset 8\n" /* iters */
    /* the red zone: argument copies and known words */
    "        movq    %rdi, -80(%rsp)\n"
    "        movq    %rsi, -88(%rsp)\n"
    "        movq    %rdx, -96(%rsp)\n"
    "        movabs  $0x1122334455667788, %rax\n"
    "        movq    %rax, -104(%rsp)\n"
    "        notq    %rax\n        movq    %rax, -112(%rsp)\n"
    "        rolq    $8, %rax\n    movq    %rax, -120(%rsp)\n"
    "        movabs  $0x0123456789abcdef, %rax\n    movq    %rax, -128(%rsp)\n"
    /* vector, x87, MXCSR */
    "        vmovdqu 0(%rdx), %ymm0\n        vmovdqu 32(%rdx), %ymm1\n"
    "        vmovdqu 64(%rdx), %ymm2\n       vmovdqu 96(%rdx), %ymm3\n"
    "        vmovdqu 128(%rdx), %ymm4\n      vmovdqu 160(%rdx), %ymm5\n"
    "        vmovdqu 192(%rdx), %ymm6\n      vmovdqu 224(%rdx), %ymm7\n"
    "        vmovdqu 256(%rdx), %ymm8\n      vmovdqu 288(%rdx), %ymm9\n"
    "        vmovdqu 320(%rdx), %ymm10\n     vmovdqu 352(%rdx), %ymm11\n"
    "        vmovdqu 384(%rdx), %ymm12\n     vmovdqu 416(%rdx), %ymm13\n"
    "        vmovdqu 448(%rdx), %ymm14\n     vmovdqu 480(%rdx), %ymm15\n"
    "        fldpi\n        fld1\n        fldl2e\n"
    "        movw    $0x027f, -8(%rsp)\n        fldcw   -8(%rsp)\n"
    "        movl    $0x9fc0, -8(%rsp)\n        ldmxcsr -8(%rsp)\n"
    /* general registers */
    "        movabs  $" PR_V(1) ", %rbx\n"
    "        movabs  $" PR_V(2) ", %rcx\n"
    "        movabs  $" PR_V(3) ", %rbp\n"
    "        movabs  $" PR_V(4) ", %r8\n"
    "        movabs  $" PR_V(5) ", %r9\n"
    "        movabs  $" PR_V(6) ", %r10\n"
    "        movabs  $" PR_V(7) ", %r11\n"
    "        movabs  $" PR_V(8) ", %r12\n"
    "        movabs  $" PR_V(9) ", %r13\n"
    "        movabs  $" PR_V(10) ", %r14\n"
    "        movabs  $" PR_V(11) ", %r15\n"
    "        xorl    %eax, %eax\n"
    "        movq    %rax, -72(%rsp)\n" /* iteration count */
    "        std\n"
    "1:\n"
    "        incq    -72(%rsp)\n"
#define PR_CHK(reg, i) \
    "        movabs  $" PR_V(i) ", %rax\n        cmpq    %rax, %" reg "\n" \
    "        movl    $" #i ", %eax\n        jne     9f\n"
    PR_CHK("rbx", 1) PR_CHK("rcx", 2) PR_CHK("rbp", 3) PR_CHK("r8", 4) PR_CHK("r9", 5)
    PR_CHK("r10", 6) PR_CHK("r11", 7) PR_CHK("r12", 8) PR_CHK("r13", 9) PR_CHK("r14", 10)
    PR_CHK("r15", 11)
    "        movl    $12, %eax\n"
    "        cmpq    -80(%rsp), %rdi\n        jne     9f\n"
    "        cmpq    -88(%rsp), %rsi\n        jne     9f\n"
    "        cmpq    -96(%rsp), %rdx\n        jne     9f\n"
    "        pushq   %rax\n        movabs  $0x1122334455667788, %rax\n"
    "        cmpq    %rax, -96(%rsp)\n" /* -104 before the push */
    "        jne     4f\n"
    "        movabs  $0x0123456789abcdef, %rax\n"
    "        cmpq    %rax, -120(%rsp)\n" /* -128 before the push */
    "4:      popq    %rax\n        jne     9f\n"
    "        pushfq\n        popq    %rax\n"
    "        btq     $10, %rax\n        movl    $13, %eax\n        jnc     9f\n"
#define PR_YCHK(i) \
    "        vmovdqu %ymm" #i ", -64(%rsp)\n        movl    $(20+" #i "), %eax\n" \
    "        pushq   %rbx\n        movq    -56(%rsp), %rbx\n" \
    "        cmpq    (" #i "*32+0)(%rdx), %rbx\n        jne     8f\n" \
    "        movq    -48(%rsp), %rbx\n        cmpq    (" #i "*32+8)(%rdx), %rbx\n   jne 8f\n" \
    "        movq    -40(%rsp), %rbx\n        cmpq    (" #i "*32+16)(%rdx), %rbx\n  jne 8f\n" \
    "        movq    -32(%rsp), %rbx\n        cmpq    (" #i "*32+24)(%rdx), %rbx\n  jne 8f\n" \
    "        popq    %rbx\n"
    PR_YCHK(0) PR_YCHK(1) PR_YCHK(2) PR_YCHK(3) PR_YCHK(4) PR_YCHK(5) PR_YCHK(6)
    PR_YCHK(7) PR_YCHK(8) PR_YCHK(9) PR_YCHK(10) PR_YCHK(11) PR_YCHK(12) PR_YCHK(13)
    PR_YCHK(14) PR_YCHK(15)
    "        cmpq    %rsi, (%rdi)\n"
    "        jl      1b\n"
    /* after the loop: x87 stack and control, MXCSR */
    "        cld\n"
    "        fnstcw  -8(%rsp)\n        movl    $41, %eax\n"
    "        cmpw    $0x027f, -8(%rsp)\n        jne     9f\n"
    "        stmxcsr -8(%rsp)\n        movl    $42, %eax\n"
    "        cmpl    $0x9fc0, -8(%rsp)\n        jne     9f\n"
    "        movw    $0x037f, -8(%rsp)\n        fldcw   -8(%rsp)\n"
    "        movl    $40, %eax\n"
    "        fstpl   -8(%rsp)\n        movabs  $0x3FF71547652B82FE, %rbx\n"
    "        cmpq    %rbx, -8(%rsp)\n        jne     9f\n"
    "        fstpl   -8(%rsp)\n        movabs  $0x3FF0000000000000, %rbx\n"
    "        cmpq    %rbx, -8(%rsp)\n        jne     9f\n"
    "        fstpl   -8(%rsp)\n        movabs  $0x400921FB54442D18, %rbx\n"
    "        cmpq    %rbx, -8(%rsp)\n        jne     9f\n"
    "        xorl    %eax, %eax\n"
    "        jmp     9f\n"
    "8:      popq    %rbx\n        jmp     9f\n"
    "9:      cld\n"
    "        movq    -72(%rsp), %rdx\n"
    "        fninit\n" /* empty x87 stack (a failure left values), default control */
    "        movl    $0x1f80, -8(%rsp)\n        ldmxcsr -8(%rsp)\n"
    "        vzeroupper\n"
    "        popq    %rcx\n        .cfi_adjust_cfa_offset -8\n"
    "        testq   %rcx, %rcx\n        jz      5f\n"
    "        movq    %rdx, (%rcx)\n"
    "5:      popq    %r15\n        .cfi_adjust_cfa_offset -8\n"
    "        popq    %r14\n        .cfi_adjust_cfa_offset -8\n"
    "        popq    %r13\n        .cfi_adjust_cfa_offset -8\n"
    "        popq    %r12\n        .cfi_adjust_cfa_offset -8\n"
    "        popq    %rbx\n        .cfi_adjust_cfa_offset -8\n"
    "        popq    %rbp\n        .cfi_adjust_cfa_offset -8\n"
    "        ret\n"
    "        .cfi_endproc\n"
    "        .size   preempt_reg_loop, .-preempt_reg_loop\n");

/* Overwrites every caller-saved register a preempted G could have left in the CPU
 * (ymm0-15, the x87 registers, rax..r11), as other code running on the M while the
 * G is parked may: a preemption that failed to save one of them shows. */
static inline void preempt_clobber(void)
{
    __asm__ volatile(
        "vpcmpeqd %%ymm0, %%ymm0, %%ymm0\n"
        "vmovdqa %%ymm0, %%ymm1\n  vmovdqa %%ymm0, %%ymm2\n  vmovdqa %%ymm0, %%ymm3\n"
        "vmovdqa %%ymm0, %%ymm4\n  vmovdqa %%ymm0, %%ymm5\n  vmovdqa %%ymm0, %%ymm6\n"
        "vmovdqa %%ymm0, %%ymm7\n  vmovdqa %%ymm0, %%ymm8\n  vmovdqa %%ymm0, %%ymm9\n"
        "vmovdqa %%ymm0, %%ymm10\n vmovdqa %%ymm0, %%ymm11\n vmovdqa %%ymm0, %%ymm12\n"
        "vmovdqa %%ymm0, %%ymm13\n vmovdqa %%ymm0, %%ymm14\n vmovdqa %%ymm0, %%ymm15\n"
        "fldz\n fldz\n fldz\n fstp %%st(0)\n fstp %%st(0)\n fstp %%st(0)\n"
        "movq $-1, %%rax\n movq $-1, %%rcx\n movq $-1, %%rdx\n movq $-1, %%rsi\n"
        "movq $-1, %%rdi\n movq $-1, %%r8\n movq $-1, %%r9\n movq $-1, %%r10\n"
        "movq $-1, %%r11\n"
        "vzeroupper\n" /* leaves the upper halves zero: still not the G's values */
        ::: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory",
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st", "st(1)",
        "st(2)");
}

#endif
