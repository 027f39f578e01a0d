/* AVERAGE_POOL_2D int8, optimized for the DSP extension: four channels per word, summed in int16 halves
 * with SXTB16 + SADD16 (exact for windows of at most 256 taps: |sum| <= 256 * 128). Same parameters and
 * bytes as tm_average_pool_2d_s8 (pooling.h); chosen by harness/plan/optimize.py for such windows. */
#ifndef TM_POOLING_DSP_H
#define TM_POOLING_DSP_H
#include "pooling.h"

tm_status_t tm_average_pool_2d_s8_dsp(const void *params, uint8_t *arena);
#endif
