/* 64-bit by small-constant division with 32-bit divides only: libgcc's general 64-bit division
 * would cost about 700 bytes of flash for the three places that need one (decimal digits,
 * milli-units, cycles to microseconds). */
#ifndef DIV64_H
#define DIV64_H
#include <stdint.h>

/* v / d, and v % d in *rem, for 0 < d < 2^16: long division in base 2^16 keeps every partial
 * dividend below 2^32. */
static inline uint64_t div64_small(uint64_t v, uint32_t d, uint32_t *rem)
{
    uint64_t q = 0;
    uint32_t r = 0;
    for (int shift = 48; shift >= 0; shift -= 16) {
        uint32_t part = (r << 16) | (uint32_t)((v >> shift) & 0xFFFFu);
        q = (q << 16) | (part / d);
        r = part % d;
    }
    *rem = r;
    return q;
}

#endif
