/* Decimal, hex and fixed-point formatting for the reply lines. */
#include "fmt.h"
#include <string.h>
#include "div64.h"

size_t fmt_u64(char *out, uint64_t v)
{
    char rev[20];
    size_t n = 0;
    do {
        uint32_t digit;
        v = div64_small(v, 10, &digit);
        rev[n++] = (char)('0' + digit);
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        out[i] = rev[n - 1 - i];
    }
    out[n] = '\0';
    return n;
}

size_t fmt_i32(char *out, int32_t v)
{
    if (v < 0) {
        out[0] = '-';
        /* Negating in unsigned arithmetic is defined for INT32_MIN as well. */
        return 1 + fmt_u64(out + 1, 0u - (uint32_t)v);
    }
    return fmt_u64(out, (uint32_t)v);
}

size_t fmt_hex8(char *out, uint8_t v)
{
    static const char digits[] = "0123456789abcdef";
    out[0] = digits[v >> 4];
    out[1] = digits[v & 0xFu];
    out[2] = '\0';
    return 2;
}

/* m * 2^e2 in decimal, for e2 >= 0: doubling a digit string keeps it exact up to FLT_MAX (2^128). */
static size_t fmt_pow2_multiple(char *out, uint32_t m, int e2)
{
    uint8_t digit[40];   /* least significant first; 2^128 has 39 digits */
    size_t n = 0;
    do {
        digit[n++] = (uint8_t)(m % 10);
        m /= 10;
    } while (m != 0);
    for (; e2 > 0; e2--) {
        unsigned carry = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned d = digit[i] * 2u + carry;
            carry = d >= 10;
            digit[i] = (uint8_t)(d - 10 * carry);
        }
        if (carry) {
            digit[n++] = 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)('0' + digit[n - 1 - i]);
    }
    return n;
}

size_t fmt_fixed3(char *out, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint32_t biased = (bits >> 23) & 0xFFu;
    uint32_t mant = bits & 0x7FFFFFu;
    char *p = out;

    if (biased == 0xFFu && mant != 0) {
        memcpy(out, "nan", 4);
        return 3;
    }
    if (bits >> 31) {
        *p++ = '-';
    }
    if (biased == 0xFFu) {
        memcpy(p, "inf", 4);
        return (size_t)(p - out) + 3;
    }
    /* |v| = mant * 2^e2 exactly. */
    int e2 = -149;
    if (biased != 0) {
        mant |= 1u << 23;
        e2 = (int)biased - 150;
    }

    uint32_t frac = 0;   /* thousandths */
    if (e2 >= 0) {
        p += fmt_pow2_multiple(p, mant, e2);   /* a whole number: no fraction */
    } else {
        unsigned k = (unsigned)-e2;
        uint64_t scaled = (uint64_t)mant * 1000u;   /* < 2^34 */
        uint64_t milli = 0;   /* round(|v| * 1000), ties to even: what printf does with the exact value */
        if (k <= 40) {   /* beyond, |v| * 1000 < 2^34 / 2^41 is far below one half */
            milli = scaled >> k;
            uint64_t rem = scaled & ((1ull << k) - 1);
            uint64_t half = 1ull << (k - 1);
            if (rem > half || (rem == half && (milli & 1))) {
                milli++;
            }
        }
        p += fmt_u64(p, div64_small(milli, 1000, &frac));
    }
    p[0] = '.';
    p[1] = (char)('0' + frac / 100);
    p[2] = (char)('0' + frac / 10 % 10);
    p[3] = (char)('0' + frac % 10);
    p[4] = '\0';
    return (size_t)(p + 4 - out);
}
