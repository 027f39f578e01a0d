/* DEPTHWISE_CONV_2D int8, optimized for the DSP extension: depth multiplier 1, four channels per word
 * (SXTB16 + SADD16 for the input offset, SMLABB/SMLATT per channel). Same parameters and bytes as
 * tm_depthwise_conv2d_s8 (depthwise_conv2d.h); chosen by harness/plan/optimize.py. */
#ifndef TM_DEPTHWISE_CONV2D_DSP_H
#define TM_DEPTHWISE_CONV2D_DSP_H
#include "depthwise_conv2d.h"

tm_status_t tm_depthwise_conv2d_s8_dsp(const void *params, uint8_t *arena);
#endif
