/* Reply text to the host: protocol lines are assembled piece by piece and closed by reply_end(),
 * which writes the "\r\n" every MLPerf Tiny line ends with. */
#ifndef REPLY_H
#define REPLY_H
#include <stdint.h>

void reply(const char *s);
void reply_u64(uint64_t v);
void reply_i32(int32_t v);
void reply_hex8(uint8_t v);
void reply_fixed3(float v);
void reply_end(void);
/* s and the line end. */
void reply_line(const char *s);
/* The timestamp line, m-lap-us-<microseconds>, for a cycles_now() value. */
void reply_lap(uint64_t cycles);

#endif
