/* DEPTHWISE_CONV_2D int8, optimized for the DSP extension: depth multiplier 1, four channels per word
 * (SXTB16 on the input, SMLABB/SMLATT per channel against weights the planner stored as int16). Same
 * semantics and bytes as tm_depthwise_conv2d_s8 (depthwise_conv2d.h); harness/plan/optimize.py
 * (`_depthwise`) chooses it and lays out its constants. */
#ifndef TM_DEPTHWISE_CONV2D_DSP_H
#define TM_DEPTHWISE_CONV2D_DSP_H
#include "tm_runtime.h"

typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint16_t batches;
    uint16_t in_h, in_w, in_c;   /* out_c = in_c (depth multiplier 1) */
    uint16_t out_h, out_w;
    uint16_t kernel_h, kernel_w;
    uint16_t stride_h, stride_w;
    uint16_t dilation_h, dilation_w;
    uint16_t pad_h, pad_w;
    int16_t  in_zero_point;      /* stored as the offset to add: -zp_in */
    int16_t  out_zero_point;
    int8_t   act_min, act_max;
    uint8_t  bounded;            /* 1: every sum meets tm_requantize_bounded's precondition (the planner
                                  * proved it from the weights, bias and input offset): its cheaper form;
                                  * 2: also tm_requantize_rq's, whose records `rq` the 3x3 path uses */
    /* Weights as int16, per group of 4 channels (in_c rounded up to 4, the padding zeros), per tap
     * (ky, kx): channels c, c+2, c+1, c+3 -- one word pairs the halves SXTB16 unpacks from an input word,
     * the next the halves SXTB16 ROR 8 does. [in_c / 4 rounded up][kernel_h * kernel_w][4]. */
    const int16_t *weights;
    const int32_t *bias;         /* [in_c], zeros for an op without a bias */
    /* bias + input offset * (sum of the channel's weights over all taps), wrapped to int32: a window
     * wholly inside the image sums x * w over its taps and starts from this, with the same result
     * modulo 2^32 as sum (x + offset) * w from the bias. [in_c] */
    const int32_t *bias_inside;
    const int32_t *multiplier;   /* [in_c] */
    const int8_t  *shift;        /* [in_c], TFLM convention: >0 is a left shift */
    /* bounded 2: per channel tm_quant.h's record (harness/plan/requant.py) with bias_inside as its bias,
     * for the sums of windows wholly inside the image; NULL otherwise. [in_c][TM_RQ_WORDS] */
    const int32_t *rq;
} tm_depthwise_conv2d_dsp_params_t;

tm_status_t tm_depthwise_conv2d_s8_dsp(const void *params, uint8_t *arena);
#endif
