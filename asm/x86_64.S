/*
 * asm/x86_64.S: every instruction of libmrt that is not Rust, for x86-64 Linux.
 *
 * Assembled by global_asm! in src/runtime/arch/x86_64.rs (AT&T syntax). That file
 * supplies each structure offset used here as a const operand written {M_G0}, ...,
 * computed with offset_of! on the #[repr(C)] Rust structs and asserted at compile
 * time, so the two sides cannot drift apart.
 *
 * Register contract (System V AMD64, the C calling convention of the host):
 *   arguments      rdi, rsi, rdx, rcx, r8, r9        return value  rax
 *   callee-saved   rbx, rbp, r12, r13, r14, r15, rsp, the MXCSR control bits and the
 *                  x87 control word; the direction flag is clear at every call
 *   caller-saved   rax, rcx, rdx, rsi, rdi, r8-r11, xmm0-xmm15, flags
 *   the stack      16-byte aligned at every call instruction, so rsp = 8 (mod 16) on
 *                  function entry
 *
 * The TLS slot. mrt_tls_g is one 8-byte initial-exec thread-local: the current G of
 * this thread (an M's g0 while it runs runtime code, a user G while it runs one), or
 * 0 on a foreign thread. Code reads it through the thread pointer on every access:
 *       movq mrt_tls_g@GOTTPOFF(%rip), %rcx    # slot offset from the thread pointer
 *       movq %fs:(%rcx), %rax                  # the slot itself
 * never through a cached address, because a G may resume on another thread whose %fs
 * differs (DESIGN.md, "TLS and thread migration"). In libmrt.so the offset comes from
 * a GOT entry filled by the dynamic linker (an R_X86_64_TPOFF64 relocation, taken from
 * glibc's static TLS surplus when the library is dlopen'ed); a static link relaxes it
 * to a constant.
 */

        .section .tbss,"awT",@nobits
        .p2align 3
        .globl  mrt_tls_g
        .hidden mrt_tls_g
        .type   mrt_tls_g, @object
        .size   mrt_tls_g, 8
mrt_tls_g:
        .zero   8

        .text

/*
 * void *mstart_stub(struct M *m)      pthread entry point of every runtime-created M
 *
 * Called by glibc's start_thread with the C convention: rdi = m. It makes this thread
 * the M's thread (TLS slot = m->g0, m->tls[0] = thread pointer, m->tls[1] = address
 * of the slot), clears the direction flag and calls
 *       void mstart(struct M *m, uintptr_t entry_sp)
 * with entry_sp = the caller's stack pointer before the call to mstart_stub, which is
 * the top of the g0 stack that libmrt may use (glibc's TCB and static TLS lie above).
 * mstart returns when the M exits; the stub then restores the callee-saved registers
 * and returns NULL to glibc, which ends the thread.
 *
 * Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, flags (all caller-saved); preserves
 * rbx, rbp, r12-r15 for start_thread.
 *
 * Stack while mstart runs (addresses grow upwards):
 *       entry_sp  ->  | caller's frame (glibc start_thread)     |
 *       entry_sp-8    | return address into start_thread        |
 *                     | saved rbp, rbx, r12, r13, r14, r15      |  6 x 8 bytes
 *       rsp       ->  | 8 bytes of padding (realigns to 16)     |
 */
        .globl  mstart_stub
        .hidden mstart_stub
        .type   mstart_stub, @function
mstart_stub:
        .cfi_startproc
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        subq    $8, %rsp                        # 8 + 6*8 + 8 = 64: aligned for the call
        .cfi_adjust_cfa_offset 8

        movq    %rdi, %rbx                      # rbx = m (callee-saved across mstart)
        movq    {M_G0}(%rbx), %rax              # rax = m->g0
        movq    mrt_tls_g@GOTTPOFF(%rip), %rcx  # rcx = slot offset from %fs base
        movq    %rax, %fs:(%rcx)                # TLS slot = g0
        movq    %fs:0, %rdx                     # thread pointer (the TCB's self pointer)
        movq    %rdx, {M_TLS}(%rbx)             # m->tls[0] = thread pointer
        addq    %rcx, %rdx
        movq    %rdx, {M_TLS}+8(%rbx)           # m->tls[1] = &slot on this thread
        cld

        movq    %rbx, %rdi                      # mstart(m, entry_sp)
        leaq    64(%rsp), %rsi
        call    {MSTART}

        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r12
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        xorl    %eax, %eax                      # return NULL
        ret
        .cfi_endproc
        .size   mstart_stub, .-mstart_stub
