/* AVERAGE_POOL_2D and MAX_POOL_2D, int16 NHWC: the reference kernels tm_average_pool_2d_s16 and
 * tm_max_pool_2d_s16 (TFLM semantics, as the int8 ones; the loops: pooling_impl.h, the integer parts:
 * pooling_int.h). */
#include <stdint.h>

typedef int16_t pool_x_t;
#define POOL_LOWEST INT16_MIN
#define POOL_SUFFIX s16
#include "pooling_int.h"
