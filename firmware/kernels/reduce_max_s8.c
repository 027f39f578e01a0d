/* REDUCE_MAX, int8: the largest raw value of each output's reduced elements (TFLM semantics: input and
 * output share scale and zero point, so no requantization). The loops: reduce_max_impl.h. */
#include <stdint.h>

#include "reduce_max.h"

typedef int8_t rmax_x_t;
#define RMAX_LOWEST INT8_MIN
#define RMAX_NAME tm_reduce_max_s8
#include "reduce_max_impl.h"
