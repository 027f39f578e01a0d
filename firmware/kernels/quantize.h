#ifndef TM_QUANTIZE_H
#define TM_QUANTIZE_H
#include "tm_runtime.h"

/* QUANTIZE / DEQUANTIZE, per tensor (TFLM's reference semantics). */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t count;
    uint8_t  in_type, out_type;  /* tm_dtype_t */
    int32_t  in_zero_point;
    int32_t  out_zero_point;
    int32_t  multiplier;         /* integer -> integer: input_scale / output_scale */
    int32_t  shift;              /* TFLM convention: > 0 is a left shift */
    float    scale;              /* float -> integer: the output scale; integer -> float: the input scale */
} tm_quantize_params_t;

tm_status_t tm_quantize_f32(const void *params, uint8_t *arena);     /* float32 -> int8 / int16 */
tm_status_t tm_requantize_int(const void *params, uint8_t *arena);   /* int8/int16/int32 -> int8/int16/int32,
                                                                        uint8 <-> int8 */
tm_status_t tm_dequantize_f32(const void *params, uint8_t *arena);   /* int8 / int16 / uint8 -> float32 */
#endif
