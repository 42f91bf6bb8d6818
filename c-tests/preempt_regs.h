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

/*
 * long preempt_zmm_loop(volatile long *stop_at, long want, const void *pattern);
 *
 * The AVX-512 state: zmm0-31 from `pattern` (32 x 64 bytes) and k1-k7 = 0x11 * i,
 * checked on every iteration (k0 is the scratch of the compares) until
 * *stop_at >= want. Returns 0, or 60+i for zmm i, 100+i for k i.
 */
long preempt_zmm_loop(volatile long *stop_at, long want, const void *pattern);

__asm__(
    "        .text\n"
    "        .globl  preempt_zmm_loop\n"
    "        .type   preempt_zmm_loop, @function\n"
    "preempt_zmm_loop:\n"
    "        .cfi_startproc\n"
    "        vmovdqu64 0(%rdx), %zmm0\n"
    "        vmovdqu64 64(%rdx), %zmm1\n"
    "        vmovdqu64 128(%rdx), %zmm2\n"
    "        vmovdqu64 192(%rdx), %zmm3\n"
    "        vmovdqu64 256(%rdx), %zmm4\n"
    "        vmovdqu64 320(%rdx), %zmm5\n"
    "        vmovdqu64 384(%rdx), %zmm6\n"
    "        vmovdqu64 448(%rdx), %zmm7\n"
    "        vmovdqu64 512(%rdx), %zmm8\n"
    "        vmovdqu64 576(%rdx), %zmm9\n"
    "        vmovdqu64 640(%rdx), %zmm10\n"
    "        vmovdqu64 704(%rdx), %zmm11\n"
    "        vmovdqu64 768(%rdx), %zmm12\n"
    "        vmovdqu64 832(%rdx), %zmm13\n"
    "        vmovdqu64 896(%rdx), %zmm14\n"
    "        vmovdqu64 960(%rdx), %zmm15\n"
    "        vmovdqu64 1024(%rdx), %zmm16\n"
    "        vmovdqu64 1088(%rdx), %zmm17\n"
    "        vmovdqu64 1152(%rdx), %zmm18\n"
    "        vmovdqu64 1216(%rdx), %zmm19\n"
    "        vmovdqu64 1280(%rdx), %zmm20\n"
    "        vmovdqu64 1344(%rdx), %zmm21\n"
    "        vmovdqu64 1408(%rdx), %zmm22\n"
    "        vmovdqu64 1472(%rdx), %zmm23\n"
    "        vmovdqu64 1536(%rdx), %zmm24\n"
    "        vmovdqu64 1600(%rdx), %zmm25\n"
    "        vmovdqu64 1664(%rdx), %zmm26\n"
    "        vmovdqu64 1728(%rdx), %zmm27\n"
    "        vmovdqu64 1792(%rdx), %zmm28\n"
    "        vmovdqu64 1856(%rdx), %zmm29\n"
    "        vmovdqu64 1920(%rdx), %zmm30\n"
    "        vmovdqu64 1984(%rdx), %zmm31\n"
    "        movq    $17, %rax\n        kmovq   %rax, %k1\n"
    "        movq    $34, %rax\n        kmovq   %rax, %k2\n"
    "        movq    $51, %rax\n        kmovq   %rax, %k3\n"
    "        movq    $68, %rax\n        kmovq   %rax, %k4\n"
    "        movq    $85, %rax\n        kmovq   %rax, %k5\n"
    "        movq    $102, %rax\n        kmovq   %rax, %k6\n"
    "        movq    $119, %rax\n        kmovq   %rax, %k7\n"
    "1:\n"
    "        vpcmpeqq 0(%rdx), %zmm0, %k0\n        kortestb %k0, %k0\n"
    "        movl    $60, %eax\n        jnc     9f\n"
    "        vpcmpeqq 64(%rdx), %zmm1, %k0\n        kortestb %k0, %k0\n"
    "        movl    $61, %eax\n        jnc     9f\n"
    "        vpcmpeqq 128(%rdx), %zmm2, %k0\n        kortestb %k0, %k0\n"
    "        movl    $62, %eax\n        jnc     9f\n"
    "        vpcmpeqq 192(%rdx), %zmm3, %k0\n        kortestb %k0, %k0\n"
    "        movl    $63, %eax\n        jnc     9f\n"
    "        vpcmpeqq 256(%rdx), %zmm4, %k0\n        kortestb %k0, %k0\n"
    "        movl    $64, %eax\n        jnc     9f\n"
    "        vpcmpeqq 320(%rdx), %zmm5, %k0\n        kortestb %k0, %k0\n"
    "        movl    $65, %eax\n        jnc     9f\n"
    "        vpcmpeqq 384(%rdx), %zmm6, %k0\n        kortestb %k0, %k0\n"
    "        movl    $66, %eax\n        jnc     9f\n"
    "        vpcmpeqq 448(%rdx), %zmm7, %k0\n        kortestb %k0, %k0\n"
    "        movl    $67, %eax\n        jnc     9f\n"
    "        vpcmpeqq 512(%rdx), %zmm8, %k0\n        kortestb %k0, %k0\n"
    "        movl    $68, %eax\n        jnc     9f\n"
    "        vpcmpeqq 576(%rdx), %zmm9, %k0\n        kortestb %k0, %k0\n"
    "        movl    $69, %eax\n        jnc     9f\n"
    "        vpcmpeqq 640(%rdx), %zmm10, %k0\n        kortestb %k0, %k0\n"
    "        movl    $70, %eax\n        jnc     9f\n"
    "        vpcmpeqq 704(%rdx), %zmm11, %k0\n        kortestb %k0, %k0\n"
    "        movl    $71, %eax\n        jnc     9f\n"
    "        vpcmpeqq 768(%rdx), %zmm12, %k0\n        kortestb %k0, %k0\n"
    "        movl    $72, %eax\n        jnc     9f\n"
    "        vpcmpeqq 832(%rdx), %zmm13, %k0\n        kortestb %k0, %k0\n"
    "        movl    $73, %eax\n        jnc     9f\n"
    "        vpcmpeqq 896(%rdx), %zmm14, %k0\n        kortestb %k0, %k0\n"
    "        movl    $74, %eax\n        jnc     9f\n"
    "        vpcmpeqq 960(%rdx), %zmm15, %k0\n        kortestb %k0, %k0\n"
    "        movl    $75, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1024(%rdx), %zmm16, %k0\n        kortestb %k0, %k0\n"
    "        movl    $76, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1088(%rdx), %zmm17, %k0\n        kortestb %k0, %k0\n"
    "        movl    $77, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1152(%rdx), %zmm18, %k0\n        kortestb %k0, %k0\n"
    "        movl    $78, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1216(%rdx), %zmm19, %k0\n        kortestb %k0, %k0\n"
    "        movl    $79, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1280(%rdx), %zmm20, %k0\n        kortestb %k0, %k0\n"
    "        movl    $80, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1344(%rdx), %zmm21, %k0\n        kortestb %k0, %k0\n"
    "        movl    $81, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1408(%rdx), %zmm22, %k0\n        kortestb %k0, %k0\n"
    "        movl    $82, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1472(%rdx), %zmm23, %k0\n        kortestb %k0, %k0\n"
    "        movl    $83, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1536(%rdx), %zmm24, %k0\n        kortestb %k0, %k0\n"
    "        movl    $84, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1600(%rdx), %zmm25, %k0\n        kortestb %k0, %k0\n"
    "        movl    $85, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1664(%rdx), %zmm26, %k0\n        kortestb %k0, %k0\n"
    "        movl    $86, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1728(%rdx), %zmm27, %k0\n        kortestb %k0, %k0\n"
    "        movl    $87, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1792(%rdx), %zmm28, %k0\n        kortestb %k0, %k0\n"
    "        movl    $88, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1856(%rdx), %zmm29, %k0\n        kortestb %k0, %k0\n"
    "        movl    $89, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1920(%rdx), %zmm30, %k0\n        kortestb %k0, %k0\n"
    "        movl    $90, %eax\n        jnc     9f\n"
    "        vpcmpeqq 1984(%rdx), %zmm31, %k0\n        kortestb %k0, %k0\n"
    "        movl    $91, %eax\n        jnc     9f\n"
    "        kmovq   %k1, %rax\n        cmpq    $17, %rax\n"
    "        movl    $101, %eax\n        jne     9f\n"
    "        kmovq   %k2, %rax\n        cmpq    $34, %rax\n"
    "        movl    $102, %eax\n        jne     9f\n"
    "        kmovq   %k3, %rax\n        cmpq    $51, %rax\n"
    "        movl    $103, %eax\n        jne     9f\n"
    "        kmovq   %k4, %rax\n        cmpq    $68, %rax\n"
    "        movl    $104, %eax\n        jne     9f\n"
    "        kmovq   %k5, %rax\n        cmpq    $85, %rax\n"
    "        movl    $105, %eax\n        jne     9f\n"
    "        kmovq   %k6, %rax\n        cmpq    $102, %rax\n"
    "        movl    $106, %eax\n        jne     9f\n"
    "        kmovq   %k7, %rax\n        cmpq    $119, %rax\n"
    "        movl    $107, %eax\n        jne     9f\n"
    "        cmpq    %rsi, (%rdi)\n"
    "        jl      1b\n"
    "        xorl    %eax, %eax\n"
    "9:      vzeroupper\n"
    "        ret\n"
    "        .cfi_endproc\n"
    "        .size   preempt_zmm_loop, .-preempt_zmm_loop\n");

/* Overwrites zmm16-31 and k1-k7 (all caller-saved: an ordinary function). */
void preempt_clobber512(void);

__asm__(
    "        .text\n"
    "        .globl  preempt_clobber512\n"
    "        .type   preempt_clobber512, @function\n"
    "preempt_clobber512:\n"
    "        .cfi_startproc\n"
    "        vpternlogq $0xff, %zmm16, %zmm16, %zmm16\n"
    "        vpternlogq $0xff, %zmm17, %zmm17, %zmm17\n"
    "        vpternlogq $0xff, %zmm18, %zmm18, %zmm18\n"
    "        vpternlogq $0xff, %zmm19, %zmm19, %zmm19\n"
    "        vpternlogq $0xff, %zmm20, %zmm20, %zmm20\n"
    "        vpternlogq $0xff, %zmm21, %zmm21, %zmm21\n"
    "        vpternlogq $0xff, %zmm22, %zmm22, %zmm22\n"
    "        vpternlogq $0xff, %zmm23, %zmm23, %zmm23\n"
    "        vpternlogq $0xff, %zmm24, %zmm24, %zmm24\n"
    "        vpternlogq $0xff, %zmm25, %zmm25, %zmm25\n"
    "        vpternlogq $0xff, %zmm26, %zmm26, %zmm26\n"
    "        vpternlogq $0xff, %zmm27, %zmm27, %zmm27\n"
    "        vpternlogq $0xff, %zmm28, %zmm28, %zmm28\n"
    "        vpternlogq $0xff, %zmm29, %zmm29, %zmm29\n"
    "        vpternlogq $0xff, %zmm30, %zmm30, %zmm30\n"
    "        vpternlogq $0xff, %zmm31, %zmm31, %zmm31\n"
    "        kxnorq  %k1, %k1, %k1\n"
    "        kxnorq  %k2, %k2, %k2\n"
    "        kxnorq  %k3, %k3, %k3\n"
    "        kxnorq  %k4, %k4, %k4\n"
    "        kxnorq  %k5, %k5, %k5\n"
    "        kxnorq  %k6, %k6, %k6\n"
    "        kxnorq  %k7, %k7, %k7\n"
    "        vzeroupper\n"
    "        ret\n"
    "        .cfi_endproc\n"
    "        .size   preempt_clobber512, .-preempt_clobber512\n");

#endif
