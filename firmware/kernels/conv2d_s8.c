/* CONV_2D, int8 activations and weights, int32 bias: the reference kernel (TFLM semantics; the loops:
 * conv2d_impl.h). acc = sum over the taps inside the image of (x + in_offset) * w, + bias; then
 * requantized per output channel, + out zero point, clamped to the fused activation's range. */
#include "conv2d.h"
#include "tm_quant.h"

typedef tm_conv2d_params_t conv2d_params_t;
typedef int8_t conv2d_x_t;
typedef int8_t conv2d_w_t;
typedef int32_t conv2d_acc_t;

#define CONV2D_IN_OFFSET(p) ((p)->in_zero_point)

static inline int32_t conv2d_product(int8_t x, int8_t w, int32_t in_offset)
{
    return ((int32_t)x + in_offset) * (int32_t)w;
}

static inline int8_t conv2d_finish(const tm_conv2d_params_t *p, int32_t acc, int oc)
{
    if (p->bias) {
        acc += p->bias[oc];
    }
    acc = tm_requantize(acc, p->multiplier[oc], p->shift[oc]) + p->out_zero_point;
    return (int8_t)tm_clamp(acc, p->act_min, p->act_max);
}

#define CONV2D_FN tm_conv2d_s8
#include "conv2d_impl.h"
