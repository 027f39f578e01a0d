/* DEPTHWISE_CONV_2D float32: the reference kernel (TFLM semantics and operation order; the loops:
 * depthwise_conv2d_impl.h). Output channel oc = ic * depth_multiplier + m: total = 0, + x[ic] * w[oc]
 * over the taps inside the image (rows, then columns), then total + bias[oc], clamped to the fused
 * activation's range. */
#include "depthwise_conv2d.h"
#include "float_ops.h"

typedef tm_depthwise_conv2d_f32_params_t dw_params_t;
typedef float dw_x_t;
typedef float dw_w_t;
typedef float dw_acc_t;

#define DW_IN_OFFSET(p) 0                  /* float inputs have no zero point */

static inline float dw_product(float x, float w, int32_t in_offset)
{
    (void)in_offset;
    return x * w;
}

static inline float dw_finish(const tm_depthwise_conv2d_f32_params_t *p, float total, int oc)
{
    return tm_clampf(total + (p->bias ? p->bias[oc] : 0.0f), p->act_min, p->act_max);
}

#define DEPTHWISE_CONV2D_FN tm_depthwise_conv2d_f32
#include "depthwise_conv2d_impl.h"
