#ifndef TM_FULLY_CONNECTED_H
#define TM_FULLY_CONNECTED_H
#include "tm_runtime.h"

typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint16_t batches, in_features, out_features;
    int16_t  in_zero_point;      /* stored as the offset to add: -zp_in */
    int16_t  out_zero_point;
    int8_t   act_min, act_max;
    uint8_t  per_channel;        /* 1: one multiplier/shift per output channel */
    const int8_t  *weights;      /* [out_features][in_features] */
    const int32_t *bias;         /* [out_features] or NULL */
    const int32_t *multiplier;   /* [1 or out_features] */
    const int8_t  *shift;        /* [1 or out_features], TFLM convention: >0 is a left shift */
} tm_fc_params_t;

tm_status_t tm_fully_connected_s8(const void *params, uint8_t *arena);

/* FULLY_CONNECTED int16x8: int16 activations (zero points 0), int8 weights, an int64 bias or none: TFLM's
 * int16 kernel accumulates in 64 bits and requantizes with its 64-bit MultiplyByQuantizedMultiplier (it
 * reads any bias as int64, so the planner refuses an int32 one). */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint16_t batches, in_features, out_features;
    int16_t  act_min, act_max;
    uint8_t  per_channel;        /* 1: one multiplier/shift per output channel */
    const int8_t  *weights;      /* [out_features][in_features] */
    const int64_t *bias;         /* [out_features] or NULL */
    const int32_t *multiplier;   /* [1 or out_features] */
    const int8_t  *shift;        /* [1 or out_features] */
} tm_fc_s16_params_t;

tm_status_t tm_fully_connected_s16(const void *params, uint8_t *arena);

/* FULLY_CONNECTED float32: total = 0, + x * w along the input features, then total + bias, clamped. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t batches, in_features, out_features;
    float    act_min, act_max;
    const float *weights;        /* [out_features][in_features] */
    const float *bias;           /* [out_features] or NULL */
} tm_fc_f32_params_t;

tm_status_t tm_fully_connected_f32(const void *params, uint8_t *arena);
#endif
