/* Number to text without printf: keeps newlib's printf (and its float support) out of the image.
 * Each function writes a NUL-terminated string into `out`, which must hold FMT_BUF_SIZE chars,
 * and returns its length. */
#ifndef FMT_H
#define FMT_H
#include <stddef.h>
#include <stdint.h>

/* The longest output is fmt_fixed3 of the largest float: '-', 39 digits, ".000" and the NUL. */
#define FMT_BUF_SIZE 48

size_t fmt_u64(char *out, uint64_t v);
size_t fmt_i32(char *out, int32_t v);
/* Two lowercase hex digits. */
size_t fmt_hex8(char *out, uint8_t v);
/* The same text as printf("%.3f", (double)v): exact, ties to even, "-0.000" for small negatives,
 * "nan", "inf" and "-inf". */
size_t fmt_fixed3(char *out, float v);

#endif
