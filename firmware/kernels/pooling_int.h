/* The integer dtypes' parts of the pooling template (pooling_impl.h), shared by pooling_s8.c and
 * pooling_s16.c, which define the element type pool_x_t, POOL_LOWEST and POOL_SUFFIX first: sums and
 * running maxima in int32, TFLM's rounding average, the clamp in the output's integer domain (input and
 * output share one quantization). */
#include "pooling.h"
#include "tm_quant.h"

typedef tm_pool_params_t pool_params_t;
typedef int32_t pool_acc_t;

static inline int32_t pool_average(int32_t acc, int32_t count)
{
    /* Round half away from zero; C division truncates toward zero. */
    return acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
}

static inline pool_x_t pool_clamp(const tm_pool_params_t *p, int32_t v)
{
    return (pool_x_t)tm_clamp(v, p->act_min, p->act_max);
}

#include "pooling_impl.h"
