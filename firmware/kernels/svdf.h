#ifndef TM_SVDF_H
#define TM_SVDF_H
#include "tm_runtime.h"

/* SVDF, int8 input/output/feature weights, int32 bias, and an activation state (a variable tensor that
 * keeps its value from one inference to the next) of int16 or int8, with time weights of the same type
 * (TFLM's integer SVDF). State layout: [batch][filter][memory], newest activation last.
 *
 * The state lives in a persistent arena region the planner never reuses, followed by one flag byte: the
 * arena starts zeroed, and on the first run (flag 0) the kernel fills the state with its initial value
 * (TFLM's ResetVariableTensors: the zero point for int8 state, 0 for int16) and sets the flag. Zeroing
 * the state bytes and the flag resets it, as TFLM's interpreter reset() does. */
typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t state_offset;       /* the flag byte is at state_offset + batches * filters * memory * elem */
    uint32_t batches, input_size, filters, units, rank, memory;
    int32_t  in_zero_point;
    int32_t  state_zero_point;
    int32_t  out_zero_point;
    int32_t  feature_multiplier; /* input * weights_feature -> state */
    int32_t  feature_shift;
    int32_t  time_multiplier;    /* state * weights_time -> output */
    int32_t  time_shift;
    const int8_t  *weights_feature;   /* [filters][input_size] */
    const void    *weights_time;      /* [filters][memory], int16 or int8 as the state */
    const int32_t *bias;              /* [units] */
} tm_svdf_params_t;

tm_status_t tm_svdf_s8_s16(const void *params, uint8_t *arena);   /* int16 state and time weights */
tm_status_t tm_svdf_s8_s8(const void *params, uint8_t *arena);    /* int8 state and time weights */
#endif
