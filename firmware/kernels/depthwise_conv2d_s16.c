/* DEPTHWISE_CONV_2D int16x8: int16 activations (zero points 0), int8 weights, int64 bias: the reference
 * kernel (TFLM semantics; the loops: depthwise_conv2d_impl.h). Output channel oc = ic * depth_multiplier
 * + m: acc (64 bits) = sum over the taps inside the image of x[ic] * w[oc], + bias[oc]; TFLM's 64-bit
 * requantization, clamped. */
#include "depthwise_conv2d.h"
#include "tm_quant.h"

typedef tm_depthwise_conv2d_s16_params_t dw_params_t;
typedef int16_t dw_x_t;
typedef int8_t dw_w_t;
typedef int64_t dw_acc_t;

#define DW_IN_OFFSET(p) 0                  /* int16 zero points are 0 */

static inline int32_t dw_product(int16_t x, int8_t w, int32_t in_offset)
{
    return ((int32_t)x + in_offset) * (int32_t)w;
}

static inline int16_t dw_finish(const tm_depthwise_conv2d_s16_params_t *p, int64_t acc, int oc)
{
    if (p->bias) {
        acc += p->bias[oc];
    }
    return (int16_t)tm_clamp(tm_requantize64(acc, p->multiplier[oc], p->shift[oc]), p->act_min, p->act_max);
}

#define DEPTHWISE_CONV2D_FN tm_depthwise_conv2d_s16
#include "depthwise_conv2d_impl.h"
