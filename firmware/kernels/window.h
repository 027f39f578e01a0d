/* Shared by the conv-like kernels (CONV_2D, DEPTHWISE_CONV_2D, any dtype). */
#ifndef TM_WINDOW_H
#define TM_WINDOW_H

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
