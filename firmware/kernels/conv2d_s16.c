/* CONV_2D int16x8: int16 activations (zero points 0), int8 weights: the reference kernel (TFLM semantics;
 * the loops: conv2d_impl.h). acc = sum over the taps inside the image of x * w, + bias; requantized per
 * output channel and clamped. TFLM's accumulator and requantization depend on the bias type (conv2d.h):
 * 64-bit with an int64 bias, else 32-bit. The sum is formed in 64 bits either way; the 32-bit case keeps
 * its low 32 bits, which is the wrapped int32 sum. */
#include "conv2d.h"
#include "tm_quant.h"

typedef tm_conv2d_s16_params_t conv2d_params_t;
typedef int16_t conv2d_x_t;
typedef int8_t conv2d_w_t;
typedef int64_t conv2d_acc_t;

#define CONV2D_IN_OFFSET(p) 0                  /* int16 zero points are 0 */

static inline int32_t conv2d_product(int16_t x, int8_t w, int32_t in_offset)
{
    return ((int32_t)x + in_offset) * (int32_t)w;
}

static inline int16_t conv2d_finish(const tm_conv2d_s16_params_t *p, int64_t acc, int oc)
{
    int32_t r;
    if (p->wide_acc) {
        if (p->bias) {
            acc += p->bias[oc];
        }
        r = tm_requantize64(acc, p->multiplier[oc], p->shift[oc]);
    } else {
        uint32_t acc32 = (uint32_t)acc + (p->bias32 ? (uint32_t)p->bias32[oc] : 0u);
        r = tm_requantize((int32_t)acc32, p->multiplier[oc], p->shift[oc]);
    }
    return (int16_t)tm_clamp(r, p->act_min, p->act_max);
}

#define CONV2D_FN tm_conv2d_s16
#include "conv2d_impl.h"
