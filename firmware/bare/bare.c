/* The shared bare-metal base (bare.h): reset, default handlers, numbers as text and line parsing. */
#include "bare.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss;
int main(void);

void Reset_Handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss; dst++) *dst = 0;
    SCB_CPACR |= (0xFu << 20);              /* CP10, CP11: the FPU */
    __asm volatile("dsb\n isb" ::: "memory");   /* before the first FP instruction */
    main();
    for (;;) {}
}

/* noinline and a loop each: the core's entry into one stays visible as that symbol */
__attribute__((weak, noinline)) void NMI_Handler(void) { for (;;) {} }
__attribute__((weak, noinline)) void HardFault_Handler(void) { for (;;) {} }
__attribute__((weak, noinline)) void MemManage_Handler(void) { for (;;) {} }
__attribute__((weak, noinline)) void BusFault_Handler(void) { for (;;) {} }
__attribute__((weak, noinline)) void UsageFault_Handler(void) { for (;;) {} }
__attribute__((weak, noinline)) void Default_Handler(void) { for (;;) {} }

char *u32_text(char buf[BARE_NUM_CHARS], uint32_t v) {
    int i = BARE_NUM_CHARS - 1;
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
    return &buf[i];
}

char *hex_text(char buf[BARE_NUM_CHARS], uint32_t v) {
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 8; i++) buf[2 + i] = "0123456789abcdef"[(v >> (28 - 4 * i)) & 0xF];
    buf[10] = 0;
    return buf;
}

void console_put_u32(uint32_t v) {
    char buf[BARE_NUM_CHARS];
    console_puts(u32_text(buf, v));
}

void console_put_hex(uint32_t v) {
    char buf[BARE_NUM_CHARS];
    console_puts(hex_text(buf, v));
}

int read_line(char *buf, int cap) {
    int n = 0;
    for (;;) {
        char c = console_getc();
        if (c == '\r') continue;
        if (c == '\n') break;
        if (n < cap - 1) buf[n++] = c;
    }
    buf[n] = 0;
    return n;
}

int starts_with(const char *s, const char *prefix) {
    while (*prefix) if (*s++ != *prefix++) return 0;
    return 1;
}

int equals(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

uint32_t parse_u32(const char *s) {
    uint32_t v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (uint32_t)(*s++ - '0');
    return v;
}

uint32_t parse_hex(const char *s) {
    uint32_t v = 0;
    for (;; s++) {
        if (*s >= '0' && *s <= '9') v = v * 16 + (uint32_t)(*s - '0');
        else if (*s >= 'a' && *s <= 'f') v = v * 16 + (uint32_t)(*s - 'a' + 10);
        else return v;
    }
}
