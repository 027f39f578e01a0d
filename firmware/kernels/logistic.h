#ifndef TM_LOGISTIC_H
#define TM_LOGISTIC_H
#include "tm_runtime.h"

/* LOGISTIC and TANH, int8 (TFLM's fixed-point kernels). x - zero point is rescaled to Q4.27 with
 * input_multiplier / input_left_shift; |x - zero point| >= input_radius saturates. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t count;
    int32_t  in_zero_point;
    int32_t  input_radius;
    int32_t  input_multiplier;
    int32_t  input_left_shift;   /* TFLM convention: > 0 is a left shift */
} tm_logistic_params_t;

tm_status_t tm_logistic_s8(const void *params, uint8_t *arena);   /* out = logistic * 256 - 128 */
tm_status_t tm_tanh_s8(const void *params, uint8_t *arena);       /* out = tanh * 128 */

/* LOGISTIC and TANH float32, element-wise (TFLM's reference kernels): LOGISTIC is 1 above 16.619047...,
 * expf(x) below -9, else 1 / (1 + expf(-x)); TANH is tanhf(x). */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t count;
} tm_unary_f32_params_t;

tm_status_t tm_logistic_f32(const void *params, uint8_t *arena);
tm_status_t tm_tanh_f32(const void *params, uint8_t *arena);
#endif
