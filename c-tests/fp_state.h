/*
 * fp_state.h: the floating-point control state a G keeps as its own (MXCSR's
 * control bits and the x87 control word), read and set directly, for the tests
 * that check the switch keeps it (t_gosched_fast_path, t_switch_mxcsr_flags_reload).
 */
#ifndef MRT_FP_STATE_H
#define MRT_FP_STATE_H

#include <stdint.h>

#define MXCSR_DEFAULT 0x1f80u
#define MXCSR_RZ 0x7f80u /* rounding toward zero, all exceptions masked */
#define X87CW_DEFAULT 0x037fu
#define X87CW_53BIT 0x027fu /* double precision control */

static inline uint32_t get_mxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static inline void set_mxcsr(uint32_t v)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(v));
}

static inline uint16_t get_x87cw(void)
{
    uint16_t v;
    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}

static inline void set_x87cw(uint16_t v)
{
    __asm__ volatile("fldcw %0" : : "m"(v));
}

#endif
