/* Shared by the float32 kernels: TFLM's reference float kernels' conventions. The firmware is built with
 * -std=c11, which implies -ffp-contract=off (no fused multiply-add); the host build says so explicitly.
 * So every product and sum is rounded to single precision in the same order as TFLM's C++. */
#ifndef TM_FLOAT_OPS_H
#define TM_FLOAT_OPS_H
#include <math.h>

/* TFLM's ActivationFunctionWithMinMax, std::min(std::max(x, lo), hi): x is kept (even -0.0) unless it
 * is below lo or above hi. A fused activation NONE is the clamp to [-FLT_MAX, FLT_MAX]. */
static inline float tm_clampf(float x, float lo, float hi)
{
    float y = x < lo ? lo : x;
    return hi < y ? hi : y;
}
/* TFLM's reference float logistic: 1 above its upper cut-off, expf(x) below -9, else 1 / (1 + expf(-x))
 * (the LOGISTIC kernel and the float LSTM's gates). */
static inline float tm_logisticf(float x)
{
    const float cutoff_upper = 16.619047164916992188f;   /* TFLM's cut-offs */
    const float cutoff_lower = -9.0f;
    if (x > cutoff_upper) {
        return 1.0f;
    }
    if (x < cutoff_lower) {
        return expf(x);
    }
    return 1.0f / (1.0f + expf(-x));
}
#endif
