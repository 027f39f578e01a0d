/* QUANTIZE and DEQUANTIZE: TFLM's reference kernels' semantics, including the single-precision float
 * arithmetic of the float conversions. Tensors need not be aligned to their element size: elements are
 * moved with memcpy. */
#include <string.h>
#include "quantize.h"
#include "tm_quant.h"

static int32_t load(const uint8_t *base, uint32_t i, uint8_t type)
{
    switch (type) {
    case TM_INT8:
        return ((const int8_t *)base)[i];
    case TM_UINT8:
        return base[i];
    case TM_INT16: {
        int16_t v;
        memcpy(&v, base + 2 * i, sizeof v);
        return v;
    }
    default: {
        int32_t v;
        memcpy(&v, base + 4 * i, sizeof v);
        return v;
    }
    }
}

/* Clamps to the type's range and stores. */
static void store(uint8_t *base, uint32_t i, uint8_t type, int32_t v)
{
    if (type == TM_INT8) {
        ((int8_t *)base)[i] = (int8_t)tm_clamp(v, INT8_MIN, INT8_MAX);
    } else if (type == TM_UINT8) {
        base[i] = (uint8_t)tm_clamp(v, 0, UINT8_MAX);
    } else if (type == TM_INT16) {
        int16_t s = (int16_t)tm_clamp(v, INT16_MIN, INT16_MAX);
        memcpy(base + 2 * i, &s, sizeof s);
    } else {
        memcpy(base + 4 * i, &v, sizeof v);
    }
}

tm_status_t tm_quantize_f32(const void *params, uint8_t *arena)
{
    const tm_quantize_params_t *p = params;
    const uint8_t *in = arena + p->in_offset;
    uint8_t *out = arena + p->out_offset;
    for (uint32_t i = 0; i < p->count; i++) {
        float x;
        memcpy(&x, in + 4 * i, sizeof x);
        store(out, i, p->out_type, tm_quantize_float(x, p->scale, p->out_zero_point));
    }
    return TM_OK;
}

tm_status_t tm_requantize_int(const void *params, uint8_t *arena)
{
    const tm_quantize_params_t *p = params;
    const uint8_t *in = arena + p->in_offset;
    uint8_t *out = arena + p->out_offset;
    for (uint32_t i = 0; i < p->count; i++) {
        int32_t x = (int32_t)((uint32_t)load(in, i, p->in_type) - (uint32_t)p->in_zero_point);
        int32_t y = tm_requantize(x, p->multiplier, p->shift);
        store(out, i, p->out_type, (int32_t)((uint32_t)y + (uint32_t)p->out_zero_point));
    }
    return TM_OK;
}

tm_status_t tm_dequantize_f32(const void *params, uint8_t *arena)
{
    const tm_quantize_params_t *p = params;
    const uint8_t *in = arena + p->in_offset;
    uint8_t *out = arena + p->out_offset;
    for (uint32_t i = 0; i < p->count; i++) {
        float y = p->scale * (float)(load(in, i, p->in_type) - p->in_zero_point);
        memcpy(out + 4 * i, &y, sizeof y);
    }
    return TM_OK;
}
