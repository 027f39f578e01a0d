#ifndef TM_ACTIVATION_H
#define TM_ACTIVATION_H
#include "tm_runtime.h"

/* LEAKY_RELU int8: x - zp_in >= 0 is rescaled by in_scale / out_scale (the identity multiplier), a
 * negative one by in_scale * alpha / out_scale (the alpha multiplier); plus the output zero point, clamped
 * to int8. */
typedef struct {
    uint32_t in_offset, out_offset;      /* arena offsets */
    uint32_t count;
    int32_t  in_zero_point, out_zero_point;
    int32_t  multiplier_identity, multiplier_alpha;
    int8_t   shift_identity, shift_alpha;   /* TFLM convention: > 0 is a left shift */
} tm_leaky_relu_params_t;

tm_status_t tm_leaky_relu_s8(const void *params, uint8_t *arena);

/* LEAKY_RELU float32: x > 0 ? x : x * alpha. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t count;
    float    alpha;
} tm_leaky_relu_f32_params_t;

tm_status_t tm_leaky_relu_f32(const void *params, uint8_t *arena);

/* HARD_SWISH int8 (TFLM's 16-bit fixed-point arithmetic; hard_swish.c says how): two Q15 multipliers
 * with their exponents, from the input scale / 128 against the output scale and against 3 / 32768. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t count;
    int16_t  in_zero_point, out_zero_point;
    int16_t  out_multiplier, relu_multiplier;   /* Q15, >= 0 */
    int8_t   out_exponent;                      /* -15 .. 0: a rounding right shift by -out_exponent */
    int8_t   relu_exponent;                     /* -15 .. 30 */
} tm_hard_swish_params_t;

tm_status_t tm_hard_swish_s8(const void *params, uint8_t *arena);

/* HARD_SWISH float32: x * min(max(x + 3, 0), 6) / 6. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t count;
} tm_hard_swish_f32_params_t;

tm_status_t tm_hard_swish_f32(const void *params, uint8_t *arena);
#endif
