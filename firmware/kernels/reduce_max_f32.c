/* REDUCE_MAX, float32: the largest of each output's reduced elements, from -FLT_MAX as TFLM's
 * reference (std::numeric_limits<float>::lowest()). The loops: reduce_max_impl.h. */
#include <float.h>

#include "reduce_max.h"

typedef float rmax_x_t;
#define RMAX_LOWEST (-FLT_MAX)
#define RMAX_NAME tm_reduce_max_f32
#include "reduce_max_impl.h"
