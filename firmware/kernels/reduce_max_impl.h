/* REDUCE_MAX's loops, written once for every dtype: a template, not a header of declarations.
 * reduce_max_s8.c and reduce_max_f32.c each include it once, after giving
 *   RMAX_NAME   the kernel's name, rmax_x_t the element type (a typedef), RMAX_LOWEST its lowest value.
 * TFLM's order and comparison: the running maximum starts at the lowest value and is replaced only by a
 * strictly greater element (so a float NaN is never taken). */
tm_status_t RMAX_NAME(const void *params, uint8_t *arena)
{
    const tm_reduce_max_params_t *p = params;
    const rmax_x_t *in = (const rmax_x_t *)(arena + p->in_offset);
    rmax_x_t *out = (rmax_x_t *)(arena + p->out_offset);
    for (uint32_t a = 0; a < p->outer_dims[0]; a++) {
        for (uint32_t b = 0; b < p->outer_dims[1]; b++) {
            for (uint32_t c = 0; c < p->outer_dims[2]; c++) {
                const rmax_x_t *base = in + a * p->outer_stride[0] + b * p->outer_stride[1] + c * p->outer_stride[2];
                rmax_x_t m = RMAX_LOWEST;
                for (uint32_t i = 0; i < p->inner_dims[0]; i++) {
                    const rmax_x_t *x = base + i * p->inner_stride[0];
                    for (uint32_t j = 0; j < p->inner_dims[1]; j++) {
                        const rmax_x_t v = x[j * p->inner_stride[1]];
                        m = v > m ? v : m;
                    }
                }
                *out++ = m;
            }
        }
    }
    return TM_OK;
}
