/* CONV_2D float32: the reference kernel (TFLM semantics and operation order; the loops: conv2d_impl.h).
 * For each output: total = 0, then + x * w over the taps inside the image (rows, then columns, then
 * input channels), then total + bias, clamped to the fused activation's range. */
#include "conv2d.h"
#include "float_ops.h"

typedef tm_conv2d_f32_params_t conv2d_params_t;
typedef float conv2d_x_t;
typedef float conv2d_w_t;
typedef float conv2d_acc_t;

#define CONV2D_IN_OFFSET(p) 0                  /* float inputs have no zero point */

static inline float conv2d_product(float x, float w, int32_t in_offset)
{
    (void)in_offset;
    return x * w;
}

static inline float conv2d_finish(const tm_conv2d_f32_params_t *p, float total, int oc)
{
    return tm_clampf(total + (p->bias ? p->bias[oc] : 0.0f), p->act_min, p->act_max);
}

#define CONV2D_BLOCK4                          /* float: four output channels per pass (conv2d_impl.h) */
#define CONV2D_FN tm_conv2d_f32
#include "conv2d_impl.h"
