#ifndef TM_CONV2D_H
#define TM_CONV2D_H
#include "tm_runtime.h"
#include "window.h"

/* CONV_2D, NHWC; taps falling outside the image are skipped. The shape and window fields:
 * TM_CONV_SHAPE_FIELDS / TM_CONV_WINDOW_FIELDS (window.h). Groups: out_c / groups output channels each
 * read their own filter_c = in_c / groups input channels. */
typedef struct {
    TM_CONV_SHAPE_FIELDS
    uint16_t filter_c;           /* input channels per group: in_c / groups */
    uint16_t groups;             /* out_c / groups output channels each */
    TM_CONV_WINDOW_FIELDS
    int16_t  in_zero_point;      /* stored as the offset to add: -zp_in */
    int16_t  out_zero_point;
    int8_t   act_min, act_max;
    const int8_t  *weights;      /* [out_c][kernel_h][kernel_w][filter_c] */
    const int32_t *bias;         /* [out_c] or NULL */
    const int32_t *multiplier;   /* [out_c] */
    const int8_t  *shift;        /* [out_c], TFLM convention: >0 is a left shift */
} tm_conv2d_params_t;

tm_status_t tm_conv2d_s8(const void *params, uint8_t *arena);

/* CONV_2D int16x8: int16 activations (zero points 0), int8 weights. With an int64 bias or none TFLM
 * accumulates in 64 bits and requantizes with its 64-bit MultiplyByQuantizedMultiplier (wide_acc = 1);
 * with an int32 bias, in 32 bits (wrapping) with the 32-bit one (wide_acc = 0). */
typedef struct {
    TM_CONV_SHAPE_FIELDS
    uint16_t filter_c;
    uint16_t groups;
    TM_CONV_WINDOW_FIELDS
    int16_t  act_min, act_max;
    uint8_t  wide_acc;
    const int8_t  *weights;      /* [out_c][kernel_h][kernel_w][filter_c] */
    const int64_t *bias;         /* [out_c] or NULL (wide_acc = 1) */
    const int32_t *bias32;       /* [out_c] or NULL (wide_acc = 0) */
    const int32_t *multiplier;   /* [out_c] */
    const int8_t  *shift;        /* [out_c] */
} tm_conv2d_s16_params_t;

tm_status_t tm_conv2d_s16(const void *params, uint8_t *arena);

/* CONV_2D float32: TFLM's reference order (taps row by row, channels innermost, then + bias, clamp). */
typedef struct {
    TM_CONV_SHAPE_FIELDS
    uint16_t filter_c;
    uint16_t groups;
    TM_CONV_WINDOW_FIELDS
    float    act_min, act_max;
    const float *weights;        /* [out_c][kernel_h][kernel_w][filter_c] */
    const float *bias;           /* [out_c] or NULL */
} tm_conv2d_f32_params_t;

tm_status_t tm_conv2d_f32(const void *params, uint8_t *arena);
#endif
