/* The MLPerf Tiny device-under-test loop: `%`-terminated commands in, `\r\n` lines out, and every
 * command answered with m-ready, as mlcommons/tiny's runner expects (see
 * shared/reference/mlperf_tiny_protocol.md). Commands are looked up in one table. */
#include <stddef.h>
#include "args.h"
#include "board.h"
#include "console.h"
#include "cycles.h"
#include "db.h"
#include "infer.h"
#include "reply.h"
#include "results.h"
#include "stack_paint.h"
#include "tm_runtime.h"

#define CMD_SIZE       80    /* EE_CMD_SIZE: longer commands are truncated, not rejected */
#define CMD_TERMINATOR '%'
#define FW_VERSION     "ULPMark for tinyML Firmware V0.0.1"

static void cmd_name(char **args)
{
    (void)args;
    reply_line("m-name-dut-[tinyml-harness " BOARD_TITLE "]");
}

static void cmd_profile(char **args)
{
    (void)args;
    reply_line("m-profile-[" FW_VERSION "]");
    reply("m-model-[");
    reply(tm_model.name != NULL ? tm_model.name : "");
    reply_line("]");
}

static void cmd_timestamp(char **args)
{
    (void)args;
    reply_lap(cycles_now());
}

static void cmd_stats(char **args)
{
    (void)args;
    reply("m-stats-[cycles=");
    reply_u64(infer_last_cycles());
    reply(",arena=");
    reply_u64(tm_model.arena_bytes);
    reply(",stack=");
    reply_u64(stack_high_water());
    reply_line("]");
}

static void cmd_help(char **args);

static const struct command {
    const char *name;
    void (*run)(char **args);
    const char *help;
} commands[] = {
    {"name", cmd_name, "name            the device's name"},
    {"profile", cmd_profile, "profile         benchmark version and model id"},
    {"help", cmd_help, "help            this list"},
    {"timestamp", cmd_timestamp, "timestamp       microseconds since reset"},
    {"db", cmd_db, "db load N       expect N input bytes\r\n"
                   "db HH[HH...]    append bytes, two hex digits each\r\n"
                   "db print        show the loaded bytes"},
    {"infer", cmd_infer, "infer N [W]     load input, W warm-ups (default 10), time N inferences"},
    {"results", cmd_results, "results         the last results again"},
    {"stats", cmd_stats, "stats           cycles of the last inference, arena and stack bytes"},
};

static void cmd_help(char **args)
{
    (void)args;
    reply_line(FW_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        reply_line(commands[i].help);
    }
}

static void dispatch(char *line)
{
    char *cursor = line;
    const char *name = arg_next(&cursor);
    if (name != NULL) {
        size_t i = 0;
        while (i < sizeof commands / sizeof commands[0] && !arg_is(name, commands[i].name)) {
            i++;
        }
        if (i < sizeof commands / sizeof commands[0]) {
            commands[i].run(&cursor);
        } else {
            reply("e-[Unknown command: ");
            reply(name);
            reply_line("]");
        }
    }
    reply_line("m-ready");
}

int main(void)
{
    reply_line("m-timestamp-mode-performance");
    reply_lap(cycles_now());
    reply_line("m-init-done");
    reply_line("m-ready");

    static char line[CMD_SIZE + 1];
    size_t len = 0;
    for (;;) {
        char c = console_getc();
        if (c == CMD_TERMINATOR) {
            line[len] = '\0';
            dispatch(line);
            len = 0;
        } else if (c == '\r' || c == '\n') {
            /* A terminal's line ends are not part of any command. */
        } else if (len < CMD_SIZE) {
            line[len++] = c;
        }
    }
}
