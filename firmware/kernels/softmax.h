#ifndef TM_SOFTMAX_H
#define TM_SOFTMAX_H
#include "tm_runtime.h"

/* SOFTMAX over the last dimension, int8 input; TFLM's fixed-point algorithm (exp in Q5.26, sum in
 * Q12.19, a Newton-Raphson reciprocal). input_multiplier/left_shift fold beta * input_scale; inputs more
 * than |diff_min| below the row maximum contribute nothing and give the output minimum. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t rows, depth;
    int32_t  input_multiplier;
    int32_t  input_left_shift;   /* >= 0 */
    int32_t  diff_min;           /* <= 0 */
} tm_softmax_params_t;

tm_status_t tm_softmax_s8(const void *params, uint8_t *arena);       /* int8 out: scale 1/256, zp -128 */
tm_status_t tm_softmax_s8_s16(const void *params, uint8_t *arena);   /* int16 out: scale 1/65536, zp -32768 */

/* SOFTMAX int16 -> int16 (output scale 1/32768, zero point 0): TFLM's table-driven kernel. The tables are
 * 513 entries (512 segments plus the last slope), in Q0.15, built on the host as TFLM's Prepare builds
 * them: exp on [-10, 0] and 1 / (1 + x) on [0, 1]. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t rows, depth;
    int32_t  input_multiplier;   /* beta * input_scale, mapping [-65535, 0] onto [-10, 0] */
    int32_t  input_shift;        /* TFLM convention: > 0 is a left shift */
    const int16_t *exp_lut;
    const int16_t *one_over_one_plus_x_lut;
} tm_softmax_s16_params_t;

tm_status_t tm_softmax_s16(const void *params, uint8_t *arena);

/* SOFTMAX float32 (TFLM's reference order): per row, the maximum (from -FLT_MAX), then
 * e = expf((x - max) * beta) stored and summed from 0.0f in order, then each e / sum. expf is the C
 * library's: the host's libm on the host (as the TFLM wheel's), newlib's on the board, whose
 * single-precision-FPU builds can differ from glibc's by an ulp or two (harness/reference.py). */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t rows, depth;
    float    beta;
} tm_softmax_f32_params_t;

tm_status_t tm_softmax_f32(const void *params, uint8_t *arena);
#endif
