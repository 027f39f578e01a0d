/* MEAN float32: the reference kernel (TFLM semantics and operation order): the sum of each output's
 * reduced elements, from 0.0f in input order, divided by their count. */
#include "mean.h"

tm_status_t tm_mean_f32(const void *params, uint8_t *arena)
{
    const tm_mean_f32_params_t *p = params;
    const float *in = (const float *)(arena + p->in_offset);
    float *out = (float *)(arena + p->out_offset);
    for (uint32_t a = 0; a < p->outer_dims[0]; a++) {
        for (uint32_t b = 0; b < p->outer_dims[1]; b++) {
            for (uint32_t c = 0; c < p->outer_dims[2]; c++) {
                const float *base = in + a * p->outer_stride[0] + b * p->outer_stride[1] + c * p->outer_stride[2];
                float sum = 0.0f;
                for (uint32_t i = 0; i < p->inner_dims[0]; i++) {
                    const float *x = base + i * p->inner_stride[0];
                    for (uint32_t j = 0; j < p->inner_dims[1]; j++) {
                        sum += x[j * p->inner_stride[1]];
                    }
                }
                *out++ = sum / p->count;
            }
        }
    }
    return TM_OK;
}
