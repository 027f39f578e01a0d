/* `db load N`, `db <hex>` and `db print`, with the reference's messages. Unlike the reference, a
 * rejected size or a chunk past the end never writes outside the buffer. */
#include "db.h"
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include "args.h"
#include "reply.h"
#include "tm_runtime.h"

#define DB_PRINT_PER_LINE 8

#define buffer tm_db_buffer
static uint32_t expected;   /* bytes announced by `db load` */
static uint32_t loaded;

/* The model image sizes the buffer to its input: bytes past it could never reach the input tensor. */
static uint32_t db_limit(void)
{
    return tm_model.input.bytes;
}

static void db_load(const char *count)
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
    if ((uint32_t)n > db_limit()) {
        expected = 0;   /* nothing more is stored until a valid load */
        reply("Supplied buffer size ");
        reply_i32(n);
        reply(" exceeds maximum of ");
        reply_u64(db_limit());
        reply_end();
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
        db_load(arg_next(args));
    } else if (arg_is(sub, "print")) {
        db_print();
    } else {
        db_hex(sub);
    }
}

uint32_t db_copy(uint8_t *dst, uint32_t n)
{
    if (n > db_limit()) {
        n = db_limit();
    }
    memcpy(dst, buffer, n);
    return n;
}
