#ifndef TM_LOG_SOFTMAX_H
#define TM_LOG_SOFTMAX_H
#include "tm_runtime.h"

/* LOG_SOFTMAX over the last dimension, int8 (output scale 16/256, zero point 127: [-16, 0) onto the int8
 * range), TFLM's fixed-point algorithm: per row the maximum, the sum of exp(diff) in Q12.19 over the diffs
 * at or above diff_min (diff scaled by input_multiplier / input_left_shift into Q5.26), its log in Q5.26,
 * then each output (scaled diff - log sum) / 2^22 rounded, + 127, clamped; diffs at or below a per-row
 * threshold (diff_min - 1, or the log sum moved back to the input's scale by reverse_multiplier /
 * reverse_shift, whichever is larger) give -128. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t rows, depth;
    int32_t  input_multiplier;
    int32_t  input_left_shift;     /* >= 1 */
    int32_t  reverse_multiplier;
    int32_t  reverse_shift;        /* <= 0 (TFLM's convention: > 0 would be a left shift) */
    int32_t  diff_min;             /* <= 0 */
} tm_log_softmax_params_t;

tm_status_t tm_log_softmax_s8(const void *params, uint8_t *arena);

/* LOG_SOFTMAX float32, TFLM's reference order: per row the maximum (from -FLT_MAX), the sum from 0.0f of
 * expf(x - max) in order, logf of it, then each x - max - log sum. expf and logf are the C library's. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t rows, depth;
} tm_log_softmax_f32_params_t;

tm_status_t tm_log_softmax_f32(const void *params, uint8_t *arena);
#endif
