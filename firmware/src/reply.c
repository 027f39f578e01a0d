/* Reply pieces written straight to the console: nothing is buffered, so nothing can overflow. */
#include "reply.h"
#include "console.h"
#include "cycles.h"
#include "fmt.h"

void reply(const char *s)
{
    console_puts(s);
}

void reply_u64(uint64_t v)
{
    char buf[FMT_BUF_SIZE];
    console_write(buf, fmt_u64(buf, v));
}

void reply_i32(int32_t v)
{
    char buf[FMT_BUF_SIZE];
    console_write(buf, fmt_i32(buf, v));
}

void reply_hex8(uint8_t v)
{
    char buf[FMT_BUF_SIZE];
    console_write(buf, fmt_hex8(buf, v));
}

void reply_fixed3(float v)
{
    char buf[FMT_BUF_SIZE];
    console_write(buf, fmt_fixed3(buf, v));
}

void reply_end(void)
{
    console_puts("\r\n");
}

void reply_line(const char *s)
{
    console_puts(s);
    reply_end();
}

void reply_lap(uint64_t cycles)
{
    reply("m-lap-us-");
    reply_u64(cycles_to_us(cycles));
    reply_end();
}
