/* AVERAGE_POOL_2D and MAX_POOL_2D, int8 NHWC: the reference kernels tm_average_pool_2d_s8 and
 * tm_max_pool_2d_s8 (TFLM semantics; the loops: pooling_impl.h, the integer parts: pooling_int.h). */
#include <stdint.h>

typedef int8_t pool_x_t;
#define POOL_LOWEST INT8_MIN
#define POOL_SUFFIX s8
#include "pooling_int.h"
