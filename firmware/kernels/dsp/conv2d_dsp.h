/* CONV_2D int8, optimized for the DSP extension (Cortex-M4/M7): im2col of two output pixels into int16
 * (input offset applied, taps outside the image 0), then a 2-pixel x 2-output-channel matrix kernel of
 * SMLADs over int8 weights unpacked with SXTB16. Same semantics and bytes as tm_conv2d_s8 (conv2d.h);
 * the planner (harness/plan/optimize.py) chooses it for groups == 1 and lays the weights out for it. */
#ifndef TM_CONV2D_DSP_H
#define TM_CONV2D_DSP_H
#include "tm_runtime.h"

typedef struct {
    uint32_t in_offset;          /* arena offsets */
    uint32_t out_offset;
    uint32_t depth;              /* kernel_h * kernel_w * in_c rounded up to a multiple of 4 (the im2col
                                  * buffer on the stack is 2 pixels x depth int16) */
    uint16_t batches;
    uint16_t in_h, in_w, in_c;
    uint16_t out_h, out_w, out_c;
    uint16_t kernel_h, kernel_w;
    uint16_t stride_h, stride_w;
    uint16_t dilation_h, dilation_w;
    uint16_t pad_h, pad_w;
    int16_t  in_zero_point;      /* stored as the offset to add: -zp_in */
    int16_t  out_zero_point;
    int8_t   act_min, act_max;
    uint8_t  bounded;            /* which requantization (the planner proved the precondition from the
                                  * weights, bias, input offset and zero points): 0 tm_requantize, 1
                                  * tm_requantize_bounded with bias/multiplier/shift, 2 tm_requantize_rq
                                  * with the per-channel records `rq` (bias/multiplier/shift then NULL) */
    /* Weights for output channels (2j, 2j+1), for each group of 4 taps k..k+3 (taps in [ky][kx][c] order,
     * zero-padded to `depth`): 4 bytes of channel 2j then 4 of channel 2j+1, in tap order (SXTB16 gives
     * (w[k], w[k+2]), SXTB16 ROR 8 (w[k+1], w[k+3]); the im2col buffer holds its taps in that order).
     * An odd out_c is padded with a zero channel; bias, multiplier and shift likewise. */
    const int8_t  *weights;
    const int32_t *bias;         /* [out_c rounded up to even], zeros for an op without a bias */
    const int32_t *multiplier;   /* [out_c rounded up to even] */
    const int8_t  *shift;        /* [out_c rounded up to even], TFLM convention: >0 is a left shift */
    const int32_t *rq;           /* bounded == 2: [out_c][TM_RQ_WORDS] (tm_quant.h, harness/plan/requant.py) */
} tm_conv2d_dsp_params_t;

tm_status_t tm_conv2d_s8_dsp(const void *params, uint8_t *arena);
#endif
