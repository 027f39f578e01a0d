/* Shared by the conv-like kernels (CONV_2D, DEPTHWISE_CONV_2D, any dtype). */
#ifndef TM_WINDOW_H
#define TM_WINDOW_H
#include <stdint.h>

/* The fields every conv-like parameter struct (conv2d.h, depthwise_conv2d.h) has, in this order: the
 * tensors' places and shapes first, then, after each op's own channel fields, the window's steps. One
 * definition, so the structs cannot drift apart; harness/plan fills them by field name. Padding is given
 * as the rows/columns before the image (TFLM's ComputePaddingWithOffset). */
#define TM_CONV_SHAPE_FIELDS                                        \
    uint32_t in_offset;          /* arena offsets */                \
    uint32_t out_offset;                                            \
    uint16_t batches;                                               \
    uint16_t in_h, in_w, in_c;                                      \
    uint16_t out_h, out_w, out_c;                                   \
    uint16_t kernel_h, kernel_w;
#define TM_CONV_WINDOW_FIELDS                                       \
    uint16_t stride_h, stride_w;                                    \
    uint16_t dilation_h, dilation_w;                                \
    uint16_t pad_h, pad_w;

/* The filter taps [*lo, *hi) whose input coordinate origin + dilation * k lies inside [0, size). */
static inline void tm_tap_range(int origin, int dilation, int size, int taps, int *lo, int *hi)
{
    int first = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
    int last = size - 1 - origin;               /* dilation * k <= last */
    int end = last < 0 ? 0 : last / dilation + 1;
    *lo = first;
    *hi = end < taps ? end : taps;
}
#endif
