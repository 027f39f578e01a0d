/* Command arguments: the command line is split in place on spaces, as the reference does with strtok. */
#ifndef ARGS_H
#define ARGS_H
#include <stdbool.h>
#include <stdint.h>

/* The next space-separated token, NUL-terminated in place, or NULL at the end of the line. */
char *arg_next(char **cursor);
/* Whether token is exactly word (a tiny strcmp: newlib's is tuned for speed and ten times the size). */
bool arg_is(const char *token, const char *word);
/* atoi() semantics (leading sign and digits, 0 if none), saturating instead of overflowing. */
int32_t arg_int(const char *s);

#endif
