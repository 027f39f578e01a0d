/* AVERAGE_POOL_2D and MAX_POOL_2D, float32 NHWC: the reference kernels (TFLM semantics and operation
 * order; the loops: pooling_impl.h). The window is clipped to the image; padded taps are skipped and not
 * counted. Average: the taps summed row by row from 0.0f, divided by their count; max: from -FLT_MAX,
 * keeping the first of equal values (std::max). Both then clamped to the fused activation's range. */
#include <float.h>

#include "float_ops.h"
#include "pooling.h"

typedef tm_pool_f32_params_t pool_params_t;
typedef float pool_x_t;
typedef float pool_acc_t;
#define POOL_LOWEST (-FLT_MAX)

static inline float pool_average(float total, float count)
{
    return total / count;
}

static inline float pool_clamp(const tm_pool_f32_params_t *p, float v)
{
    return tm_clampf(v, p->act_min, p->act_max);
}

#define POOL_SUFFIX f32
#include "pooling_impl.h"
