#ifndef TM_RESIZE_H
#define TM_RESIZE_H
#include "tm_runtime.h"

/* RESIZE_NEAREST_NEIGHBOR, NHWC, any element type (pixels copied unchanged): output pixel (y, x) of each
 * batch is the input pixel at byte offset row_offset[y] + col_offset[x] in the batch, tables the planner
 * computed with TFLM's index arithmetic (harness/plan/ops/resize.py). */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t batches, in_batch_bytes;
    uint32_t out_h, out_w;
    uint32_t pixel_bytes;            /* depth * element size */
    const int32_t *row_offset;       /* out_h entries */
    const int32_t *col_offset;       /* out_w entries */
} tm_resize_nearest_params_t;

tm_status_t tm_resize_nearest(const void *params, uint8_t *arena);

/* RESIZE_BILINEAR, NHWC: per output row y the element offsets of its two source rows (row_offset[2y],
 * [2y+1]) and their weights (row_weight[2y], [2y+1]), per output column x the same (col_offset,
 * col_weight); output = the four source pixels weighted by row weight times column weight. int8: integer
 * weights in 1/1024ths, the sum divided by 2^20 rounding half away from zero (TFLM's
 * ResizeBilinearInteger); float32: weights 1 - d and d, TFLM's operation order. */
typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t batches, in_batch;      /* elements per input batch */
    uint32_t out_h, out_w, depth;
    const int32_t *row_offset, *col_offset;
    const int32_t *row_weight, *col_weight;
} tm_resize_bilinear_s8_params_t;

typedef struct {
    uint32_t in_offset, out_offset;
    uint32_t batches, in_batch;
    uint32_t out_h, out_w, depth;
    const int32_t *row_offset, *col_offset;
    const float *row_weight, *col_weight;
} tm_resize_bilinear_f32_params_t;

tm_status_t tm_resize_bilinear_s8(const void *params, uint8_t *arena);
tm_status_t tm_resize_bilinear_f32(const void *params, uint8_t *arena);
#endif
