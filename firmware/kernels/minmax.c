/* MAXIMUM and MINIMUM, int8, int16 and float32, with broadcasting (the loop: broadcast.h). TFLM compares
 * the stored values themselves: no requantization, whatever the tensors' quantization (the converter gives
 * both inputs and the output one scale and zero point, so the comparison is of real values), and no fused
 * activation. The float comparisons are TFLM's, `x > y ? x : y` and `x < y ? x : y`: on a tie (0.0 against
 * -0.0) or a NaN the second input's value is the result. */
#include "broadcast.h"
#include "elementwise.h"

#define TM_MAX_ONE(p, x, y) ((x) > (y) ? (x) : (y))
#define TM_MIN_ONE(p, x, y) ((x) < (y) ? (x) : (y))

TM_BINARY_KERNEL(tm_maximum_s8, tm_binary_raw_params_t, int8_t, TM_MAX_ONE)
TM_BINARY_KERNEL(tm_minimum_s8, tm_binary_raw_params_t, int8_t, TM_MIN_ONE)
TM_BINARY_KERNEL(tm_maximum_s16, tm_binary_raw_params_t, int16_t, TM_MAX_ONE)
TM_BINARY_KERNEL(tm_minimum_s16, tm_binary_raw_params_t, int16_t, TM_MIN_ONE)
TM_BINARY_KERNEL(tm_maximum_f32, tm_binary_raw_params_t, float, TM_MAX_ONE)
TM_BINARY_KERNEL(tm_minimum_f32, tm_binary_raw_params_t, float, TM_MIN_ONE)
