/* MEAN, int8: TFLM's quantized mean. Sum of the raw values of each output's reduced elements, corrected
 * by the input zero point, then one requantization (which includes the 1/N) and saturation to int8. */
#include "mean.h"
#include "tm_quant.h"

tm_status_t tm_mean_s8(const void *params, uint8_t *arena)
{
    const tm_mean_params_t *p = params;
    const int8_t *in = (const int8_t *)(arena + p->in_offset);
    int8_t *out = (int8_t *)(arena + p->out_offset);
    for (uint32_t a = 0; a < p->outer_dims[0]; a++) {
        for (uint32_t b = 0; b < p->outer_dims[1]; b++) {
            for (uint32_t c = 0; c < p->outer_dims[2]; c++) {
                const int8_t *base = in + a * p->outer_stride[0] + b * p->outer_stride[1] + c * p->outer_stride[2];
                int32_t sum = 0;
                for (uint32_t i = 0; i < p->inner_dims[0]; i++) {
                    const int8_t *x = base + i * p->inner_stride[0];
                    for (uint32_t j = 0; j < p->inner_dims[1]; j++) {
                        sum += x[j * p->inner_stride[1]];
                    }
                }
                int32_t r = tm_requantize(sum + p->sum_offset, p->multiplier, p->shift) + p->out_zero_point;
                *out++ = (int8_t)tm_clamp(r, -128, 127);
            }
        }
    }
    return TM_OK;
}
