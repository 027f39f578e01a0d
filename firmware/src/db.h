/* The `db` command: the host's input bytes, sent as hex in chunks, collected into one buffer. */
#ifndef DB_H
#define DB_H
#include <stdint.h>

void cmd_db(char **args);
/* Copies up to n buffered bytes to dst (the input tensor); returns how many it copied. */
uint32_t db_copy(uint8_t *dst, uint32_t n);

#endif
