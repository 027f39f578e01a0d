/* ADD, SUB and MUL, float32, with broadcasting: the reference kernels (TFLM semantics; the loop:
 * broadcast.h): a + b (a - b, a * b) in single precision, clamped to the fused activation's range. */
#include "broadcast.h"
#include "elementwise.h"
#include "float_ops.h"

static inline float add_one(const tm_binary_f32_params_t *p, float x, float y)
{
    return tm_clampf(x + y, p->act_min, p->act_max);
}

static inline float sub_one(const tm_binary_f32_params_t *p, float x, float y)
{
    return tm_clampf(x - y, p->act_min, p->act_max);
}

static inline float mul_one(const tm_binary_f32_params_t *p, float x, float y)
{
    return tm_clampf(x * y, p->act_min, p->act_max);
}

TM_BINARY_KERNEL(tm_add_f32, tm_binary_f32_params_t, float, add_one)
TM_BINARY_KERNEL(tm_mul_f32, tm_binary_f32_params_t, float, mul_one)
TM_BINARY_KERNEL(tm_sub_f32, tm_binary_f32_params_t, float, sub_one)
