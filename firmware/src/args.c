/* Tokens and integers from a command line. */
#include "args.h"
#include <stddef.h>

char *arg_next(char **cursor)
{
    char *s = *cursor;
    while (*s == ' ') {
        s++;
    }
    if (*s == '\0') {
        *cursor = s;
        return NULL;
    }
    char *token = s;
    while (*s != '\0' && *s != ' ') {
        s++;
    }
    if (*s != '\0') {
        *s++ = '\0';
    }
    *cursor = s;
    return token;
}

bool arg_is(const char *token, const char *word)
{
    while (*token != '\0' && *token == *word) {
        token++;
        word++;
    }
    return *token == *word;
}

int32_t arg_int(const char *s)
{
    int negative = *s == '-';
    if (*s == '-' || *s == '+') {
        s++;
    }
    int64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v <= INT32_MAX) {
            v = v * 10 + (*s - '0');
        }
    }
    if (negative) {
        v = -v;
    }
    return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}
