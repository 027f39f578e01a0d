#ifndef TM_ELEMENTWISE_H
#define TM_ELEMENTWISE_H
#include "tm_runtime.h"

/* ADD / SUB / MUL with broadcasting. The planner collapses the output shape to 6 dimensions (outermost
 * first) and gives each input its element stride along each (0 where the input is broadcast). An input is
 * read from the arena at inN_offset, or from flash through inN_const when that is set (a constant of the
 * kernel's element type). */
typedef struct {
    uint32_t in1_offset, in2_offset, out_offset;
    const void *in1_const, *in2_const;
    uint32_t dims[6];
    uint32_t in1_stride[6], in2_stride[6];
    int16_t  in1_zero_offset, in2_zero_offset;   /* -zero_point of each input */
    int16_t  out_zero_point;
    uint8_t  left_shift;                         /* 20 for int8, 15 for int16 */
    int32_t  in1_multiplier, in2_multiplier, out_multiplier;
    int8_t   in1_shift, in2_shift, out_shift;    /* <= 0: right shifts */
    int16_t  act_min, act_max;
} tm_add_params_t;

typedef struct {
    uint32_t in1_offset, in2_offset, out_offset;
    const void *in1_const, *in2_const;
    uint32_t dims[6];
    uint32_t in1_stride[6], in2_stride[6];
    int16_t  in1_zero_offset, in2_zero_offset;
    int16_t  out_zero_point;
    int32_t  out_multiplier;
    int8_t   out_shift;                          /* TFLM convention: > 0 is a left shift */
    int16_t  act_min, act_max;
} tm_mul_params_t;

tm_status_t tm_add_s8(const void *params, uint8_t *arena);
tm_status_t tm_mul_s8(const void *params, uint8_t *arena);
tm_status_t tm_add_s16(const void *params, uint8_t *arena);   /* int16x8: zero points 0, left_shift 15 */
tm_status_t tm_mul_s16(const void *params, uint8_t *arena);   /* int16x8: zero points 0 */
/* SUB: ADD's parameters and rescaling, the second input's rescaled value subtracted instead of added. */
tm_status_t tm_sub_s8(const void *params, uint8_t *arena);
tm_status_t tm_sub_s16(const void *params, uint8_t *arena);   /* int16x8: zero points 0, left_shift 15 */

/* ADD / SUB / MUL float32: a + b (a - b, a * b), clamped to the fused activation's range. */
typedef struct {
    uint32_t in1_offset, in2_offset, out_offset;
    const float *in1_const, *in2_const;
    uint32_t dims[6];
    uint32_t in1_stride[6], in2_stride[6];
    float    act_min, act_max;
} tm_binary_f32_params_t;

tm_status_t tm_add_f32(const void *params, uint8_t *arena);
tm_status_t tm_mul_f32(const void *params, uint8_t *arena);
tm_status_t tm_sub_f32(const void *params, uint8_t *arena);

/* Broadcast geometry alone, for the binary ops that need no other parameter: MAXIMUM and MINIMUM (every
 * dtype: raw values compared, no requantization) and float32 PRELU. */
typedef struct {
    uint32_t in1_offset, in2_offset, out_offset;
    const void *in1_const, *in2_const;
    uint32_t dims[6];
    uint32_t in1_stride[6], in2_stride[6];
} tm_binary_raw_params_t;

tm_status_t tm_maximum_s8(const void *params, uint8_t *arena);
tm_status_t tm_minimum_s8(const void *params, uint8_t *arena);
tm_status_t tm_maximum_s16(const void *params, uint8_t *arena);
tm_status_t tm_minimum_s16(const void *params, uint8_t *arena);
tm_status_t tm_maximum_f32(const void *params, uint8_t *arena);
tm_status_t tm_minimum_f32(const void *params, uint8_t *arena);

/* PRELU int8, input 2 the slope alpha (broadcast like ADD's second input): x - zp_in >= 0 is rescaled by
 * in_scale / out_scale (multiplier 1), else (x - zp_in) * (alpha - zp_alpha) by in_scale * alpha_scale /
 * out_scale (multiplier 2); plus the output zero point, clamped to int8. */
typedef struct {
    uint32_t in1_offset, in2_offset, out_offset;
    const void *in1_const, *in2_const;
    uint32_t dims[6];
    uint32_t in1_stride[6], in2_stride[6];
    int16_t  in1_zero_offset, in2_zero_offset;   /* -zero_point of the input and of alpha */
    int16_t  out_zero_point;
    int32_t  multiplier1, multiplier2;
    int8_t   shift1, shift2;                     /* TFLM convention: > 0 is a left shift */
} tm_prelu_params_t;

tm_status_t tm_prelu_s8(const void *params, uint8_t *arena);
tm_status_t tm_prelu_f32(const void *params, uint8_t *arena);   /* tm_binary_raw_params_t */
#endif
