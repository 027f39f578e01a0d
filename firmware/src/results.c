/* Output tensors -> result lines. Dequantization is value = (q - zero_point) * scale in single
 * precision, the same float arithmetic TFLite uses, so the host can reproduce the digits. */
#include "results.h"
#include <stdbool.h>
#include <string.h>
#include "db.h"
#include "reply.h"
#include "tm_runtime.h"

static uint32_t dtype_bytes(uint8_t dtype)
{
    switch (dtype) {
    case TM_INT8: return 1;
    case TM_UINT8: return 1;
    case TM_INT16: return 2;
    case TM_FLOAT32: return 4;
    case TM_INT32: return 4;
    default: return 0;
    }
}

/* memcpy: a tensor's offset in the arena need not suit the element's alignment. */
static float dequantize(const tm_io_t *io, const uint8_t *at)
{
    int32_t q;
    switch (io->dtype) {
    case TM_FLOAT32: {
        float f;
        memcpy(&f, at, sizeof f);
        return f;
    }
    case TM_INT8: q = (int8_t)at[0]; break;
    case TM_UINT8: q = at[0]; break;
    case TM_INT16: {
        int16_t h;
        memcpy(&h, at, sizeof h);
        q = h;
        break;
    }
    default: memcpy(&q, at, sizeof q); break;
    }
    /* Wrapping subtraction: only an int32 tensor can reach the edge, and it must not be UB there. */
    return (float)(int32_t)((uint32_t)q - (uint32_t)io->zero_point) * io->scale;
}

/* The reconstruction error of the last inference, kept: a later `db` may change the input it was of. */
static bool mse_valid;
static float mse;

/* The ad01 reference DUT's score: the mean of (dequantized output - float input)^2, summed in single
 * precision in element order and divided once, as it does (and so the host can redo it exactly). */
static float reconstruction_error(const tm_io_t *out, const uint8_t *data, uint32_t size)
{
    float sum = 0.0f;
    uint32_t count = out->bytes / size;
    for (uint32_t i = 0; i < count; i++) {
        float diff = dequantize(out, data + i * size) - db_float(i);
        sum += diff * diff;
    }
    return sum / (float)count;
}

void results_after_infer(void)
{
    const tm_io_t *out = tm_output(&tm_model, 0);
    uint32_t size = dtype_bytes(out->dtype);
    mse_valid = tm_model.result == TM_RESULT_MSE && db_has_floats() && size != 0;
    if (mse_valid) {
        mse = reconstruction_error(out, tm_arena + out->offset, size);
    }
    results_print();
}

/* The values line is of the first output only: MLPerf Tiny's runner scores one tensor (every benchmark
 * model has one output). The raw line carries every output, so the host compares each byte for byte. */
void results_print(void)
{
    const tm_io_t *out = tm_output(&tm_model, 0);
    const uint8_t *data = tm_arena + out->offset;
    uint32_t size = dtype_bytes(out->dtype);
    if (size == 0) {
        reply("e-[Unsupported output dtype ");
        reply_u64(out->dtype);
        reply_line("]");
        return;
    }
    reply("m-results-[");
    if (mse_valid) {
        reply_fixed3(mse);
    } else {
        for (uint32_t i = 0; i + size <= out->bytes; i += size) {
            if (i != 0) {
                reply(",");
            }
            reply_fixed3(dequantize(out, data + i));
        }
    }
    reply_line("]");
    reply("m-results-raw-[");
    for (uint32_t k = 0; k < tm_n_outputs(&tm_model); k++) {
        const tm_io_t *each = tm_output(&tm_model, k);
        if (k != 0) {
            reply(",");
        }
        for (uint32_t i = 0; i < each->bytes; i++) {
            reply_hex8(tm_arena[each->offset + i]);
        }
    }
    reply_line("]");
}

void cmd_results(char **args)
{
    (void)args;
    results_print();
}
