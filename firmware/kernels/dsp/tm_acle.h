/* The DSP-extension intrinsics the optimized kernels use, one name each. On an Arm target with the DSP
 * extension (Cortex-M4/M7) they are ACLE's (arm_acle.h), i.e. single instructions; elsewhere (the host
 * build, harness/host_runtime.py) they are small C definitions with the instructions' architectural
 * semantics (Arm ARM v7-M A7.7: SXTB16, SMLAD, SMLABB, SMLATT, SADD16), so the same kernel C is checked
 * byte for byte on the host. Sums wrap modulo 2^32 as the instructions do (the Q flag is never read). */
#ifndef TM_ACLE_H
#define TM_ACLE_H
#include <stdint.h>

/* A 32-bit load from any alignment (the M4/M7 allow unaligned LDR; memcpy compiles to one). */
static inline uint32_t tm_ld32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);   /* builtin: the firmware is built -ffreestanding */
    return v;
}

/* For an inner loop of independent loads: GCC's peephole pass pairs adjacent loads into LDRD, which the
 * Cortex-M4 cannot pipeline with its neighbours (3 cycles for 2 words, where a run of LDRs costs 1 each). */
#if defined(__GNUC__) && !defined(__clang__)
#define TM_NO_LDRD_PAIRING __attribute__((optimize("no-peephole2")))
#else
#define TM_NO_LDRD_PAIRING
#endif

static inline uint32_t tm_ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << ((32u - n) & 31u));
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
static inline uint32_t tm_sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int32_t)x); }
static inline int32_t tm_smlad(uint32_t a, uint32_t b, int32_t acc) { return __smlad((int32_t)a, (int32_t)b, acc); }
static inline int32_t tm_smlabb(uint32_t a, uint32_t b, int32_t acc) { return __smlabb((int32_t)a, (int32_t)b, acc); }
static inline int32_t tm_smlatt(uint32_t a, uint32_t b, int32_t acc) { return __smlatt((int32_t)a, (int32_t)b, acc); }
static inline uint32_t tm_sadd16(uint32_t a, uint32_t b) { return (uint32_t)__sadd16((int32_t)a, (int32_t)b); }
/* SXTB16 Rd, Rm, ROR #8 (bytes 1 and 3): ACLE has no rotated form and GCC does not fold a rotate into
 * __sxtb16, so the one instruction is written out. */
static inline uint32_t tm_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
#else
static inline int32_t tm_lo16(uint32_t x) { return (int16_t)(x & 0xFFFFu); }
static inline int32_t tm_hi16(uint32_t x) { return (int16_t)(x >> 16); }
static inline int32_t tm_wrap(int64_t v) { return (int32_t)(uint32_t)(uint64_t)v; }

/* SXTB16: bytes 0 and 2, sign-extended, into the low and high halfwords. */
static inline uint32_t tm_sxtb16(uint32_t x)
{
    uint32_t lo = (uint32_t)(int32_t)(int8_t)(x & 0xFFu) & 0xFFFFu;
    uint32_t hi = (uint32_t)(int32_t)(int8_t)((x >> 16) & 0xFFu) & 0xFFFFu;
    return lo | (hi << 16);
}
/* SXTB16 of the value rotated right by 8: bytes 1 and 3. */
static inline uint32_t tm_sxtb16_ror8(uint32_t x) { return tm_sxtb16(tm_ror(x, 8)); }
/* SMLAD: acc + lo(a)*lo(b) + hi(a)*hi(b). */
static inline int32_t tm_smlad(uint32_t a, uint32_t b, int32_t acc)
{
    return tm_wrap((int64_t)acc + tm_lo16(a) * tm_lo16(b) + tm_hi16(a) * tm_hi16(b));
}
static inline int32_t tm_smlabb(uint32_t a, uint32_t b, int32_t acc) { return tm_wrap((int64_t)acc + tm_lo16(a) * tm_lo16(b)); }
static inline int32_t tm_smlatt(uint32_t a, uint32_t b, int32_t acc) { return tm_wrap((int64_t)acc + tm_hi16(a) * tm_hi16(b)); }
/* SADD16: two independent halfword additions, each wrapping to 16 bits. */
static inline uint32_t tm_sadd16(uint32_t a, uint32_t b)
{
    uint32_t lo = (uint32_t)(tm_lo16(a) + tm_lo16(b)) & 0xFFFFu;
    uint32_t hi = (uint32_t)(tm_hi16(a) + tm_hi16(b)) & 0xFFFFu;
    return lo | (hi << 16);
}
#endif
#endif
