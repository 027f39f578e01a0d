/* Workload for `harness bench engine` (harness/bench.py): emulator speed, not board speed. Startup, vector
 * table and polled console from the shared base (firmware/bare), and one command:
 *   run <n>   -> n passes of an int8 fully-connected layer with TFLM-style requantisation (loads from
 *               flash and SRAM, multiply-accumulates, 64-bit multiplies, saturation, loops), then
 *               `done <checksum> <cycles>` with the DWT CYCCNT delta
 * The mix and the block sizes are those of a plain-C int8 kernel built with -O2.
 */
#include <stdint.h>
#include "../bare/bare.h"

/* ---------------------------------------------------------------- the workload */
#define IN 256
#define OUT 64

static const int8_t weights[OUT * IN] = {
#define W4(i) (int8_t)((i) * 37 + 11), (int8_t)((i) * 53 - 7), (int8_t)((i) * 19 + 3), (int8_t)((i) * 71 - 29)
#define W16(i) W4(i), W4(i + 1), W4(i + 2), W4(i + 3)
#define W64(i) W16(i), W16(i + 4), W16(i + 8), W16(i + 12)
#define W256(i) W64(i), W64(i + 16), W64(i + 32), W64(i + 48)
#define W1K(i) W256(i), W256(i + 64), W256(i + 128), W256(i + 192)
#define W4K(i) W1K(i), W1K(i + 256), W1K(i + 512), W1K(i + 768)
    W4K(0), W4K(1024), W4K(2048), W4K(3072)
};
static int32_t bias[OUT];
static int8_t input[IN];
static int8_t output[OUT];

static int32_t requantize(int32_t acc, int32_t multiplier, int shift) {
    int64_t prod = (int64_t)acc * multiplier;
    int32_t high = (int32_t)((prod + (1ll << 30)) >> 31);
    int32_t rounding = (1 << (shift - 1)) - (high < 0);
    return (high + rounding) >> shift;
}

__attribute__((noinline)) static void fully_connected(void) {
    for (int o = 0; o < OUT; o++) {
        int32_t acc = bias[o];
        const int8_t *w = &weights[o * IN];
        for (int i = 0; i < IN; i++) {
            acc += ((int32_t)input[i] + 128) * w[i];
        }
        int32_t v = requantize(acc, 1518500250, 9) - 128;
        output[o] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
}

static uint32_t run(uint32_t n) {
    uint32_t sum = 0;
    for (int i = 0; i < OUT; i++) bias[i] = i * 1000 - 30000;
    for (int i = 0; i < IN; i++) input[i] = (int8_t)(i * 7 - 100);
    for (uint32_t k = 0; k < n; k++) {
        fully_connected();
        for (int o = 0; o < OUT; o++) sum = sum * 31u + (uint8_t)output[o];
        input[k % IN] = output[k % OUT];
    }
    return sum;
}

int main(void) {
    static char line[32];
    console_init();
    cyccnt_start();
    console_puts("engine_bench ready\r\n");
    for (;;) {
        read_line(line, sizeof line);
        if (starts_with(line, "run ")) {
            uint32_t n = parse_u32(line + 4);
            uint32_t t0 = DWT_CYCCNT;
            uint32_t sum = run(n);
            uint32_t t1 = DWT_CYCCNT;
            console_puts("done ");
            console_put_u32(sum);
            console_putc(' ');
            console_put_u32(t1 - t0);
            console_puts("\r\n");
        } else {
            console_puts("unknown\r\n");
        }
    }
}
