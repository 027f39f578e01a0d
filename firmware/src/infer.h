/* The `infer N [W]` command: load the input, run W warm-ups and N timed inferences, report. */
#ifndef INFER_H
#define INFER_H
#include <stdint.h>

void cmd_infer(char **args);
/* Core cycles of the most recent single tm_invoke (0 before the first). */
uint64_t infer_last_cycles(void);

#endif
