/* The `db` command: the host's input bytes, sent as hex in chunks, collected into one buffer. */
#ifndef DB_H
#define DB_H
#include <stdbool.h>
#include <stdint.h>

void cmd_db(char **args);
/* Whether one whole input has been downloaded since the last `db load`; if not, says so (an e- line). */
bool db_complete(void);
/* The downloaded input, converted to the input tensor's type, into its place in the arena (each input
 * tensor's, for a model with several); nothing when the download landed in the input tensor itself
 * (tm_model.db_is_input). */
void db_to_inputs(uint8_t *arena);
/* After an inference of an image that infers once per download (tm_model.infer_once): the input tensor's
 * bytes were reused, so the download is gone and the next `infer` asks for a new one. */
void db_consumed(void);
/* Whether the download is float32 values (the benchmark's format is), and the i-th of them. */
bool db_has_floats(void);
float db_float(uint32_t i);

#endif
