/* The inference sequence of MLPerf Tiny's ee_infer(): the two laps bracket the N timed inferences.
 * The arena plan lets later tensors reuse the inputs' bytes, so the inputs are copied (and converted: see
 * db.c) in from the db buffer before every inference (inside the laps, outside the per-inference cycle
 * count). Without one complete download there is nothing to infer on: an error, never results; an image
 * that downloads into an input tensor the plan lets later tensors overwrite (tm_model.infer_once) runs one
 * inference per download, and refuses more. Both lap
 * lines are sent after the loop, so the time the UART takes to send the first is not counted; the host
 * sees the same lines in the same order. */
#include "infer.h"
#include <stdbool.h>
#include <stddef.h>
#include "args.h"
#include "cycles.h"
#include "db.h"
#include "reply.h"
#include "results.h"
#include "tm_runtime.h"

#define DEFAULT_WARMUPS 10   /* the reference's default when W is omitted */

static uint64_t last_cycles;

/* Every inference goes through here, so its cycle count is always that of the latest one, and the
 * counter is read often enough for cycles_now() to see every wrap. */
static tm_status_t invoke_timed(void)
{
    db_to_inputs(tm_arena);
    uint64_t start = cycles_now();
    tm_status_t status = tm_invoke(&tm_model, tm_arena);
    last_cycles = cycles_now() - start;
    db_consumed();
    return status;
}

/* Stops at the first failure and says so once, rather than once per remaining iteration. */
static bool run(uint32_t count, bool ok)
{
    for (uint32_t i = 0; ok && i < count; i++) {
        tm_status_t status = invoke_timed();
        if (status != TM_OK) {
            reply("e-[inference failed: status ");
            reply_u64((uint32_t)status);
            reply_line("]");
            ok = false;
        }
    }
    return ok;
}

void cmd_infer(char **args)
{
    int32_t n = 1;
    int32_t warmups = DEFAULT_WARMUPS;
    const char *arg = arg_next(args);
    if (arg != NULL) {
        n = arg_int(arg);
        if (n <= 0) {
            reply_line("e-[Inference iterations must be >0]");
            return;
        }
        arg = arg_next(args);
        if (arg != NULL) {
            warmups = arg_int(arg);
            if (warmups < 0) {
                reply_line("e-[Inference warmup must be >=0]");
                return;
            }
        }
    }

    if (!db_complete()) {
        return;
    }
    if (tm_model.infer_once && (uint32_t)n + (uint32_t)warmups > 1u) {
        reply_line("e-[This image infers once per download (the input is in the arena): use infer 1 0]");
        return;
    }
    reply("m-warmup-start-");
    reply_u64((uint32_t)warmups);
    reply_end();
    bool ok = run((uint32_t)warmups, true);
    reply_line("m-warmup-done");
    reply("m-infer-start-");
    reply_u64((uint32_t)n);
    reply_end();
    uint64_t start = cycles_now();
    run((uint32_t)n, ok);
    uint64_t end = cycles_now();
    reply_lap(start);
    reply_lap(end);
    reply_line("m-infer-done");
    results_after_infer();
}

uint64_t infer_last_cycles(void)
{
    return last_cycles;
}
