#ifndef TM_DEPTHWISE_CONV2D_H
#define TM_DEPTHWISE_CONV2D_H
#include "tm_runtime.h"
#include "window.h"

/* DEPTHWISE_CONV_2D, NHWC: output channel c * depth_multiplier + m filters input channel c; taps falling
 * outside the image are skipped. The shape and window fields: TM_CONV_SHAPE_FIELDS /
 * TM_CONV_WINDOW_FIELDS (window.h). */
typedef struct {
    TM_CONV_SHAPE_FIELDS         /* out_c = in_c * depth_multiplier */
    uint16_t depth_multiplier;
    TM_CONV_WINDOW_FIELDS
    int16_t  in_zero_point;      /* stored as the offset to add: -zp_in */
    int16_t  out_zero_point;
    int8_t   act_min, act_max;
    const int8_t  *weights;      /* [kernel_h][kernel_w][out_c] */
    const int32_t *bias;         /* [out_c] or NULL */
    const int32_t *multiplier;   /* [out_c] */
    const int8_t  *shift;        /* [out_c], TFLM convention: >0 is a left shift */
} tm_depthwise_conv2d_params_t;

tm_status_t tm_depthwise_conv2d_s8(const void *params, uint8_t *arena);

/* DEPTHWISE_CONV_2D int16x8: int16 activations (zero points 0), int8 weights, int64 bias: TFLM
 * accumulates in 64 bits and requantizes with its 64-bit MultiplyByQuantizedMultiplier. */
typedef struct {
    TM_CONV_SHAPE_FIELDS
    uint16_t depth_multiplier;
    TM_CONV_WINDOW_FIELDS
    int16_t  act_min, act_max;
    const int8_t  *weights;      /* [kernel_h][kernel_w][out_c] */
    const int64_t *bias;         /* [out_c] or NULL */
    const int32_t *multiplier;   /* [out_c] */
    const int8_t  *shift;        /* [out_c] */
} tm_depthwise_conv2d_s16_params_t;

tm_status_t tm_depthwise_conv2d_s16(const void *params, uint8_t *arena);

/* DEPTHWISE_CONV_2D float32: TFLM's reference order (taps row by row, then + bias, clamp). */
typedef struct {
    TM_CONV_SHAPE_FIELDS
    uint16_t depth_multiplier;
    TM_CONV_WINDOW_FIELDS
    float    act_min, act_max;
    const float *weights;        /* [kernel_h][kernel_w][out_c] */
    const float *bias;           /* [out_c] or NULL */
} tm_depthwise_conv2d_f32_params_t;

tm_status_t tm_depthwise_conv2d_f32(const void *params, uint8_t *arena);
#endif
