/* `db load N`, `db <hex>` and `db print`, with the reference's messages, and the conversion of the
 * downloaded bytes into the input tensor. Unlike the reference, a rejected size or a chunk past the end
 * never writes outside the buffer, and what was not loaded completely is never inferred on: a refused
 * `db load` forgets the previous download, and a chunk with no download in progress is an error.
 *
 * Two formats: `db load N` takes the benchmark's format (tm_model.wire: what the MLPerf Tiny runner
 * sends, e.g. uint8 pixels or float32 features); `db load N tensor` takes the input tensors' own bytes,
 * which is how the harness feeds the same seeded inputs as TFLM (harness/protocol.py). A model with
 * several inputs takes them one after the other in the graph's order, in either format (no benchmark
 * has several, so its format is their own bytes too). */
#include "db.h"
#include <stddef.h>
#include <string.h>
#include "args.h"
#include "reply.h"
#include "tm_quant.h"
#include "tm_runtime.h"

#define DB_PRINT_PER_LINE 8

static void convert(uint8_t *arena);

#define buffer (tm_model.db)
static uint32_t expected;   /* bytes announced by `db load`, 0 after a refused one */
static uint32_t loaded;
static bool tensor_format;  /* the download is the input tensor's bytes, not the benchmark's format */

/* A complete download of one input in its format: bytes past it could never reach an input tensor. */
static uint32_t db_limit(void)
{
    if (!tensor_format) {
        return tm_model.wire_bytes;
    }
    uint32_t bytes = 0;
    for (uint32_t i = 0; i < tm_n_inputs(&tm_model); i++) {
        bytes += tm_input(&tm_model, i)->bytes;
    }
    return bytes;
}

static void db_load(const char *count, const char *format)
{
    if (count == NULL) {
        reply_line("e-[Command 'db load' requires the # of bytes]");
        return;
    }
    int32_t n = arg_int(count);
    if (n <= 0) {
        reply_line("e-[Command 'db load' must be >0 bytes]");
        return;
    }
    loaded = 0;
    expected = 0;   /* nothing is stored, and nothing inferred on, until a valid load */
    tensor_format = format != NULL && arg_is(format, "tensor");
    if ((uint32_t)n > db_limit()) {
        reply("e-[Supplied buffer size ");
        reply_i32(n);
        reply(" exceeds maximum of ");
        reply_u64(db_limit());
        reply_line("]");
        return;
    }
    expected = (uint32_t)n;
    reply("m-[Expecting ");
    reply_i32(n);
    reply_line(" bytes]");
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static void db_hex(const char *hex)
{
    size_t len = 0;
    while (hex[len] != '\0') {
        len++;
    }
    if (expected == 0) {
        reply_line("e-[No db load in progress]");
        return;
    }
    if (len % 2 != 0) {
        reply_line("e-[Insufficent number of hex digits]");   /* sic: the reference's spelling */
        return;
    }
    for (size_t i = 0; i < len && loaded < expected; i += 2) {
        int hi = hex_value(hex[i]);
        int lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) {
            char pair[3] = {hex[i], hex[i + 1], '\0'};
            reply("e-[Invalid hex digit '");
            reply(pair);
            reply_line("']");
            return;
        }
        buffer[loaded++] = (uint8_t)(hi << 4 | lo);
        if (loaded == expected) {
            if (tm_model.db_is_input && expected == db_limit()) {
                convert(tm_arena);       /* once, in place: the input is never overwritten after this */
            }
            reply_line("m-load-done");   /* digits after the last byte are ignored */
        }
    }
}

/* m-buffer-xx-xx-... with eight bytes per line, over the announced size like the reference. */
static void db_print(void)
{
    for (uint32_t i = 0; i < expected; i++) {
        reply(i % DB_PRINT_PER_LINE == 0 ? "m-buffer-" : "-");
        reply_hex8(buffer[i]);
        if ((i + 1) % DB_PRINT_PER_LINE == 0 || i + 1 == expected) {
            reply_end();
        }
    }
}

void cmd_db(char **args)
{
    char *sub = arg_next(args);
    if (sub == NULL) {
        reply_line("e-[Command 'db' requires a subcommand]");
    } else if (arg_is(sub, "load")) {
        const char *count = arg_next(args);
        db_load(count, arg_next(args));
    } else if (arg_is(sub, "print")) {
        db_print();
    } else {
        db_hex(sub);
    }
}

bool db_complete(void)
{
    if (expected != 0 && loaded == expected && expected == db_limit()) {
        return true;
    }
    reply("e-[Input not loaded: ");
    reply_u64(loaded);
    reply(" of ");
    reply_u64(db_limit());
    reply_line(" bytes]");
    return false;
}

void db_to_inputs(uint8_t *arena)
{
    if (!tm_model.db_is_input) {   /* in place, the download was converted when it completed */
        convert(arena);
    }
}

/* The reference DUTs' conversions (harness/mlperf.py chose a pair this knows, for a one-input model):
 * uint8 pixels minus 128 for an int8 input, or their value for a float32 one; float32 features quantized
 * with the input's scale and zero point, clamped to the type. Anything else is the input tensors' own
 * bytes. The input may be the buffer itself when the two sizes are equal (each byte is read before it is
 * written). */
static void convert(uint8_t *arena)
{
    const tm_io_t *in = tm_input(&tm_model, 0);
    uint8_t *dst = arena + in->offset;
    uint8_t wire = tensor_format ? in->dtype : tm_model.wire;
    if (wire == TM_UINT8 && in->dtype == TM_INT8) {
        for (uint32_t i = 0; i < in->bytes; i++) {
            dst[i] = (uint8_t)(int8_t)((int32_t)buffer[i] - 128);
        }
    } else if (wire == TM_UINT8 && in->dtype == TM_FLOAT32) {
        for (uint32_t i = 0; i < in->bytes / sizeof(float); i++) {
            float v = (float)buffer[i];
            memcpy(dst + i * sizeof v, &v, sizeof v);
        }
    } else if (wire == TM_FLOAT32 && (in->dtype == TM_INT8 || in->dtype == TM_INT16)) {
        uint32_t size = in->dtype == TM_INT8 ? 1 : 2;
        for (uint32_t i = 0; i < in->bytes / size; i++) {
            int32_t q = tm_quantize_float(db_float(i), in->scale, in->zero_point);
            if (size == 1) {
                dst[i] = (uint8_t)(int8_t)tm_clamp(q, INT8_MIN, INT8_MAX);
            } else {
                int16_t h = (int16_t)tm_clamp(q, INT16_MIN, INT16_MAX);
                memcpy(dst + 2 * i, &h, sizeof h);
            }
        }
    } else {
        uint32_t at = 0;
        for (uint32_t i = 0; i < tm_n_inputs(&tm_model); i++) {
            const tm_io_t *each = tm_input(&tm_model, i);
            if (arena + each->offset != buffer + at) {
                memcpy(arena + each->offset, buffer + at, each->bytes);
            }
            at += each->bytes;
        }
    }
}

void db_consumed(void)
{
    if (tm_model.infer_once) {
        loaded = 0;
    }
}

bool db_has_floats(void)
{
    return !tensor_format && tm_model.wire == TM_FLOAT32;
}

float db_float(uint32_t i)
{
    float v;
    memcpy(&v, buffer + i * sizeof v, sizeof v);
    return v;
}
