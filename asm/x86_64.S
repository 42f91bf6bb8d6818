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

/*
 * mrt_tls_locks: how many runtime locks this thread holds (Go's m.locks), a 4-byte
 * initial-exec thread-local beside the slot. A thread is one M for as long as it runs
 * runtime code, and no lock is held across a switch of G (the scheduler checks this
 * count), so the count of the thread is the count of its M. Changed by one `addl` to
 * %fs-relative memory: one instruction, so even a signal handler that takes a lock
 * cannot tear it.
 */
        .p2align 2
        .globl  mrt_tls_locks
        .hidden mrt_tls_locks
        .type   mrt_tls_locks, @object
        .size   mrt_tls_locks, 4
mrt_tls_locks:
        .zero   4

/*
 * mrt_tls_p: the P this thread's M held when it last yielded by a direct G-to-G
 * switch, an 8-byte initial-exec thread-local (0 at first). Only a guess: rt_gosched's
 * direct path compares it with the M's P (and refreshes it when they differ), then
 * walks the run queue from the guess, so the chain of dependent loads that finds the
 * next G starts at the thread pointer instead of going through the G and its M; a
 * stale value (another P, a P freed by rt_shutdown or in a forked child) is only ever
 * compared, never dereferenced.
 */
        .p2align 3
        .globl  mrt_tls_p
        .hidden mrt_tls_p
        .type   mrt_tls_p, @object
        .size   mrt_tls_p, 8
mrt_tls_p:
        .zero   8

        .text

/*
 * void *mstart_stub(struct M *m)      pthread entry point of every runtime-created M
 *
 * Called by glibc's start_thread with the C convention: rdi = m. It makes this thread
 * the M's thread (TLS slot = m->g0), clears the direction flag and calls
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
        .cfi_rel_offset rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        subq    $8, %rsp                        # 8 + 6*8 + 8 = 64: aligned for the call
        .cfi_adjust_cfa_offset 8

        movq    %rdi, %rbx                      # rbx = m (callee-saved across mstart)
        movq    {M_G0}(%rbx), %rax              # rax = m->g0
        movq    mrt_tls_g@GOTTPOFF(%rip), %rcx  # rcx = slot offset from %fs base
        movq    %rax, %fs:(%rcx)                # TLS slot = g0
        cld

        movq    %rbx, %rdi                      # mstart(m, entry_sp)
        leaq    64(%rsp), %rsi
        call    {MSTART}

        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
        xorl    %eax, %eax                      # return NULL
        ret
        .cfi_endproc
        .size   mstart_stub, .-mstart_stub

/*
 * Switching between Gs.
 *
 * A suspended G (or a g0 that switched to a G) is described by its Gobuf, whose only
 * field the assembly uses is sp: the stack pointer after mrt_swap pushed the frame
 * below. Everything else of the context lives on that stack:
 *
 *     higher addresses
 *       | return address: where the G resumes (the caller of mrt_swap)   |
 *       | saved rbp                                                      |
 *       | saved rbx                                                      |
 *       | saved r12                                                      |
 *       | saved r13                                                      |
 *       | saved r14                                                      |
 *       | saved r15                                                      |
 *       | x87 control word (2 bytes at +4) | MXCSR (4 bytes at +0)       |  <- gobuf.sp
 *     lower addresses
 *
 * Only callee-saved state is kept: the caller of mrt_swap has already spilled
 * whatever caller-saved registers it needs, exactly as for any C call.
 *
 * Gobuf *mrt_swap(Gobuf *save, const Gobuf *load, G *newg)
 *   C convention: rdi = save, rsi = load, rdx = newg.
 *   Returns (on the resumed side, in rax) `save`: the Gobuf of the side that
 *   switched to it, so that the resumed side learns who that was from a register
 *   instead of through memory the other side wrote just before (a chain of
 *   store-forwarded loads on every switch).
 *   Pushes the frame above on the current stack, stores rsp into save->sp, loads
 *   rsp = load->sp, writes the TLS slot = newg (so getg() is right from the first
 *   instruction of the resumed code), pops the frame found there and returns into it.
 *   The resumed side's MXCSR is loaded only when its control bits (rounding, DAZ,
 *   FTZ, exception masks: everything but the six sticky status flags, bits 0-5)
 *   differ from the current ones, and its x87 control word only when that differs.
 *   The status flags are not a G's own: they are caller-saved in the C convention
 *   (any call, rt_gosched included, may change them), so the resumed side gets
 *   the thread's current flags, as after any C call. Why: on Intel (measured on
 *   an Emerald Rapids VM) a stmxcsr soon after an ldmxcsr that changed the status
 *   flags costs ~75 ns (a loop of the pair: 76 ns; 2.4-3.9 ns when the pair
 *   changes only control bits or nothing, or for either instruction alone), 15x
 *   the rest of the switch, and a G that has done any floating-point arithmetic
 *   (inexact flag set) switching with a fresh G (flags clear) paid it in every
 *   switch's save. An ldmxcsr of an unchanged value costs ~1 ns there and reading
 *   back what stmxcsr stored (4 bytes) does not stall. (On an AMD EPYC that read
 *   back cost ~1 ns a switch; an unchanged ldmxcsr next to nothing.)
 *   fldcw of any value is slow (tens of cycles when it changes); fnstcw's store
 *   forwards normally. The two read-backs are separate 4- and 2-byte loads: one
 *   8-byte load of the slot spans both stores and does not forward (8.8 vs 3.9 ns
 *   a switch measured).
 *   Returns (on the original stack) when something later swaps back to *save.
 *   Clobbers: rax, rcx, rdx, rsi, rdi, r8-r11, flags, the MXCSR status flags;
 *   preserves the callee-saved registers, the MXCSR control bits and the x87
 *   control word of each side.
 */
/*
 * Call-frame information (for gdb, perf --call-graph=dwarf and libunwind): inside
 * mrt_swap, CFA = rsp + 64 and the callee-saved registers are at their slots in the
 * frame above, on whichever stack rsp points at. Before the switch that describes
 * the saving side, after it the resumed side, whose frame has the same layout, so an
 * unwinder stopped at any instruction finds a consistent caller: the G (or g0) that
 * called mrt_swap on that stack. mrt_gostart marks the new G's first frame as the
 * outermost (return address undefined), so backtraces of a G end at gentry.
 *
 * SAVE_CONTEXT: pushes the Gobuf frame drawn above (callee-saved registers, MXCSR and
 * the x87 control word) and stores rsp into the Gobuf at rdi. The one place that
 * writes the layout mrt_swap pops; used by mrt_swap and mrt_gostart.
 * Clobbers: nothing but rsp (and the memory it writes).
 */
        .macro  SAVE_CONTEXT
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r12, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r13, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r14, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset r15, 0
        subq    $8, %rsp                        # the FP control slot
        .cfi_adjust_cfa_offset 8
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, {GOBUF_SP}(%rdi)          # save->sp
        .endm

        .globl  mrt_swap
        .hidden mrt_swap
        .type   mrt_swap, @function
        .p2align 6                              # the same cache-line layout in
mrt_swap:                                       # every build (it moved with the
                                                # code before it: +-5% a switch)
        .cfi_startproc
        SAVE_CONTEXT                            # into *save (rdi)

        movl    (%rsp), %r8d                    # our MXCSR and x87 CW, read back
        movzwl  4(%rsp), %r9d                   # (two loads: each forwards)
        movq    %rdi, %rax                      # the resumed side's return value: save
        movq    {GOBUF_SP}(%rsi), %rsp          # switch stacks
        movq    mrt_tls_g@GOTTPOFF(%rip), %rcx
        movq    %rdx, %fs:(%rcx)                # TLS slot = newg

        xorl    (%rsp), %r8d                    # the resumed side's MXCSR only if its
        testl   $0xffffffc0, %r8d               # control bits differ (not the flags)
        jnz     3f
4:      cmpw    4(%rsp), %r9w                   # its x87 CW only if it differs
        jne     2f
1:      .cfi_remember_state
        addq    $8, %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        .cfi_restore r15
        popq    %r14
        .cfi_adjust_cfa_offset -8
        .cfi_restore r14
        popq    %r13
        .cfi_adjust_cfa_offset -8
        .cfi_restore r13
        popq    %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore r12
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbp
        ret
        .cfi_restore_state
2:      fldcw   4(%rsp)                         # differs: reload it
        jmp     1b
3:      ldmxcsr (%rsp)                          # differs: load it (flags and all)
        jmp     4b
        .cfi_endproc
        .size   mrt_swap, .-mrt_swap

/*
 * void mrt_gostart(Gobuf *save, uintptr_t stack_top, G *newg)   never returns to C
 *
 * Starts a new G on a fresh stack: like mrt_swap, it saves the caller's context into
 * *save (the g0 that runs the scheduler), then sets rsp = stack_top, writes the TLS
 * slot = newg, resets MXCSR and the x87 control word to their defaults (a G starts
 * with a clean floating-point environment) and calls gentry(newg) with a zero
 * return address above it, so that unwinders and debuggers stop there.
 * gentry runs the G's function and ends in goexit; it never returns here.
 * C convention: rdi = save, rsi = stack_top (16-byte aligned), rdx = newg.
 * Clobbers: everything caller-saved; the saved side keeps its callee-saved state.
 *
 * Fresh stack when gentry is entered (stack_top is 16-byte aligned):
 *       stack_top-8   | 0 (end of the call chain)                        |
 *       stack_top-16  | scratch for the MXCSR / x87 defaults             |
 *       stack_top-24  | return address of the call (a ud2)               |  <- rsp
 */
        .globl  mrt_gostart
        .hidden mrt_gostart
        .type   mrt_gostart, @function
mrt_gostart:
        .cfi_startproc
        SAVE_CONTEXT                            # into *save (rdi)

        movq    %rsi, %rsp                      # the new G's stack
        .cfi_undefined rip
        subq    $16, %rsp                       # keeps rsp 16-byte aligned
        movq    mrt_tls_g@GOTTPOFF(%rip), %rcx
        movq    %rdx, %fs:(%rcx)                # TLS slot = newg
        movl    $0x1f80, (%rsp)                 # default MXCSR: all exceptions masked
        ldmxcsr (%rsp)
        movw    $0x037f, (%rsp)                 # default x87 control word
        fldcw   (%rsp)
        movq    $0, 8(%rsp)                     # end of the call chain
        xorl    %ebp, %ebp
        movq    %rdx, %rdi                      # gentry(newg)
        call    {GENTRY}
        ud2                                     # gentry never returns
        .cfi_endproc
        .size   mrt_gostart, .-mrt_gostart

/*
 * Valgrind client requests (valgrind.h's "special instruction sequence"): a no-op
 * when not under valgrind, a request to the tool when under it.
 *
 * uintptr_t mrt_valgrind_request(const uintptr_t args[6], uintptr_t dflt)
 *   rdi = args (request code and 5 arguments), rsi = value returned when not running
 *   under valgrind. Returns the tool's answer (rdx after the sequence).
 *   Clobbers: rax, rdx, flags.
 */
        .globl  mrt_valgrind_request
        .hidden mrt_valgrind_request
        .type   mrt_valgrind_request, @function
mrt_valgrind_request:
        .cfi_startproc
        movq    %rdi, %rax
        movq    %rsi, %rdx
        rolq    $3, %rdi
        rolq    $13, %rdi
        rolq    $61, %rdi
        rolq    $51, %rdi
        xchgq   %rbx, %rbx
        movq    %rdx, %rax
        ret
        .cfi_endproc
        .size   mrt_valgrind_request, .-mrt_valgrind_request

/*
 * Asynchronous preemption (src/runtime/preempt.rs), as Go's asyncPreempt.
 *
 * The preemption signal's handler does not switch stacks. When it finds the
 * interrupted G preemptible, it rewrites the interrupted context (the ucontext the
 * kernel restores at sigreturn) so that the G seems to have called this routine at
 * the interrupted instruction, below its red zone:
 *
 *     higher addresses
 *       orig_rsp      | the G's frame, as interrupted                        |
 *                     | red zone: 128 bytes the interrupted code may use     |
 *       orig_rsp-136  | orig_rip: where the G was interrupted                |  <- rsp on entry
 *     lower addresses
 *
 * and rip = mrt_async_preempt. The routine saves everything the interrupted code may
 * hold: every general register, the flags, and the whole FPU/vector state (x87, MXCSR,
 * xmm, ymm, zmm and opmask registers) with xsave, under the mask of enabled features
 * that preempt.rs computed from cpuid leaf 0xD and XCR0 (mrt_preempt_xmask), in an
 * area of mrt_preempt_xsize bytes aligned to 64; fxsave (x87, MXCSR, xmm) where the
 * CPU or OS has no xsave (mrt_preempt_xsave = 0). It then gives the C calling
 * convention what it needs (direction flag clear, x87 stack empty, default MXCSR; the
 * stack 16-byte aligned) and calls
 *       void async_preempt_park(void)      (preempt.rs)
 * which parks the G on the global run queue (as rt_checkpoint does) and returns when
 * a scheduler resumes it, on this M or another. The routine restores the state and
 * returns with `ret $128`: it pops orig_rip and then skips the red zone, so rsp is
 * exactly orig_rsp again, in one instruction that touches no register. Every register
 * and flag is then as the interrupted instruction left it.
 *
 * Frame while async_preempt_park runs (rbp = frame pointer, CFA = rbp + 152):
 *       rbp+144  orig_rip (the return address; CFA-136 - the red zone lies between)
 *       rbp+8    saved rflags
 *       rbp+0    saved rbp
 *       rbp-8 .. rbp-112   rax rbx rcx rdx rsi rdi r8 r9 r10 r11 r12 r13 r14 r15
 *                (padding to a 64-byte boundary)
 *       rsp+64   the xsave/fxsave area (64-byte aligned, mrt_preempt_xsize bytes)
 *       rsp      64 bytes of scratch (the MXCSR default is loaded from here)
 * The handler checked that the G's stack has room for all of this (and for the call)
 * above its guard region.
 *
 * Unwinders see a signal frame (.cfi_signal_frame): the return address is the
 * interrupted instruction itself, not the one after a call.
 * Clobbers: nothing (that is the point). Not callable from C.
 */
        .data
        .p2align 3
        .globl  mrt_preempt_xmask
        .hidden mrt_preempt_xmask
mrt_preempt_xmask:                              # xsave's feature mask (edx:eax)
        .quad   0
        .globl  mrt_preempt_xsize
        .hidden mrt_preempt_xsize
mrt_preempt_xsize:                              # bytes of the save area (64-multiple)
        .quad   512
        .globl  mrt_preempt_xsave
        .hidden mrt_preempt_xsave
mrt_preempt_xsave:                              # 1: xsave/xrstor, 0: fxsave/fxrstor
        .quad   0

        .text
        .globl  mrt_async_preempt
        .hidden mrt_async_preempt
        .type   mrt_async_preempt, @function
        .p2align 4
mrt_async_preempt:
        .cfi_startproc
        .cfi_signal_frame
        .cfi_def_cfa_offset 136                 # CFA = orig_rsp
        .cfi_offset rip, -136
        endbr64
        pushfq
        .cfi_adjust_cfa_offset 8
        .cfi_offset 49, -144                    # rflags (DWARF register 49)
        cld                                     # the C convention, for the call
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_offset rbp, -152
        movq    %rsp, %rbp
        .cfi_def_cfa_register rbp
        pushq   %rax
        .cfi_offset rax, -160
        pushq   %rbx
        .cfi_offset rbx, -168
        pushq   %rcx
        .cfi_offset rcx, -176
        pushq   %rdx
        .cfi_offset rdx, -184
        pushq   %rsi
        .cfi_offset rsi, -192
        pushq   %rdi
        .cfi_offset rdi, -200
        pushq   %r8
        .cfi_offset r8, -208
        pushq   %r9
        .cfi_offset r9, -216
        pushq   %r10
        .cfi_offset r10, -224
        pushq   %r11
        .cfi_offset r11, -232
        pushq   %r12
        .cfi_offset r12, -240
        pushq   %r13
        .cfi_offset r13, -248
        pushq   %r14
        .cfi_offset r14, -256
        pushq   %r15
        .cfi_offset r15, -264

        subq    mrt_preempt_xsize(%rip), %rsp   # the save area ...
        andq    $-64, %rsp                      # ... 64-byte aligned
        cmpq    $0, mrt_preempt_xsave(%rip)
        je      1f
        xorl    %eax, %eax                      # XRSTOR (standard form) wants the
        movq    %rax, 512(%rsp)                 # header's reserved bytes zero; XSAVE
        movq    %rax, 520(%rsp)                 # writes only XSTATE_BV
        movq    %rax, 528(%rsp)
        movq    %rax, 536(%rsp)
        movq    %rax, 544(%rsp)
        movq    %rax, 552(%rsp)
        movq    %rax, 560(%rsp)
        movq    %rax, 568(%rsp)
        movl    mrt_preempt_xmask(%rip), %eax
        movl    mrt_preempt_xmask+4(%rip), %edx
        xsave64 (%rsp)
        jmp     2f
1:      fxsave64 (%rsp)
2:      subq    $64, %rsp                       # scratch; still 64-byte aligned
        fninit                                  # empty x87 stack, default control word
        movl    $0x1f80, (%rsp)                 # default MXCSR
        ldmxcsr (%rsp)
        call    {ASYNC_PREEMPT_PARK}            # park; returns once resumed

        addq    $64, %rsp                       # the save area
        cmpq    $0, mrt_preempt_xsave(%rip)
        je      3f
        movl    mrt_preempt_xmask(%rip), %eax
        movl    mrt_preempt_xmask+4(%rip), %edx
        xrstor64 (%rsp)
        jmp     4f
3:      fxrstor64 (%rsp)
4:      leaq    -112(%rbp), %rsp
        popq    %r15
        .cfi_restore r15
        popq    %r14
        .cfi_restore r14
        popq    %r13
        .cfi_restore r13
        popq    %r12
        .cfi_restore r12
        popq    %r11
        .cfi_restore r11
        popq    %r10
        .cfi_restore r10
        popq    %r9
        .cfi_restore r9
        popq    %r8
        .cfi_restore r8
        popq    %rdi
        .cfi_restore rdi
        popq    %rsi
        .cfi_restore rsi
        popq    %rdx
        .cfi_restore rdx
        popq    %rcx
        .cfi_restore rcx
        popq    %rbx
        .cfi_restore rbx
        popq    %rax
        .cfi_restore rax
        popq    %rbp
        .cfi_def_cfa rsp, 144
        .cfi_restore rbp
        popfq
        .cfi_adjust_cfa_offset -8
        .cfi_restore 49
        ret     $128                            # to orig_rip, with rsp = orig_rsp
        .cfi_endproc
        .globl  mrt_async_preempt_end
        .hidden mrt_async_preempt_end
mrt_async_preempt_end:
        .size   mrt_async_preempt, .-mrt_async_preempt
