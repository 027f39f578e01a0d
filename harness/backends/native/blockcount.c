/* Native instruction counter for the emulated board (harness/backends/emulated.py).
 *
 * Registered with uc_hook_add(UC_HOOK_BLOCK): at the start of every translated block Unicorn calls
 * bc_block_hook, which adds the number of Thumb instructions in the block to a 64-bit counter and
 * remembers the block, so that the caller can subtract the part of the block that was not executed
 * when emulation stops (or is observed) in the middle of it. The instruction count of a block is
 * decoded once per (address, size) and cached in a small open-addressing table.
 *
 * Unicorn's functions are passed in as pointers (bc_new), so this library links against nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*mem_read_fn)(void *uc, uint64_t addr, void *buf, uint64_t size);
typedef int (*emu_stop_fn)(void *uc);

#define TABLE_BITS 14
#define TABLE_SIZE (1u << TABLE_BITS)
#define TABLE_MAX (TABLE_SIZE / 4 * 3)

typedef struct {
    uint64_t addr;    /* 0 size marks an empty slot */
    uint32_t size;
    uint32_t n;
} entry_t;

/* The header fields are mirrored by a ctypes.Structure on the Python side: keep the order. */
typedef struct {
    uint64_t count;        /* instructions of every block entered so far (the current one in full) */
    uint64_t limit;        /* stop once count exceeds this */
    uint64_t cur_addr;     /* the block entered last */
    uint32_t cur_size;     /* its size in bytes */
    uint32_t cur_n;        /* its instruction count */
    uint32_t stopped;      /* 1 once the hook asked Unicorn to stop at the limit */
    uint32_t unknown;      /* blocks whose size Unicorn did not report (count is then inexact) */
    uint64_t blocks;       /* blocks entered */
    mem_read_fn mem_read;
    emu_stop_fn emu_stop;
    uint32_t used;
    entry_t table[TABLE_SIZE];
} bc_state;

static int is_wide(uint16_t hw) {
    unsigned top = hw >> 11;
    return top == 0x1D || top == 0x1E || top == 0x1F;
}

/* Thumb instructions in [addr, addr+size); the code is read through Unicorn. */
static uint32_t decode_count(bc_state *s, void *uc, uint64_t addr, uint64_t size) {
    uint8_t buf[4096];
    uint32_t n = 0;
    uint64_t off = 0;
    while (off < size) {
        uint64_t chunk = size - off;
        if (chunk > sizeof buf) chunk = sizeof buf;
        if (s->mem_read(uc, addr + off, buf, chunk) != 0) return n;
        uint64_t i = 0;
        while (i + 1 < chunk) {
            uint16_t hw = (uint16_t)(buf[i] | (buf[i + 1] << 8));
            i += is_wide(hw) ? 4 : 2;
            n++;
        }
        off += i;  /* a wide instruction may straddle the chunk end: resume after it */
        if (i == 0) break;
    }
    return n;
}

static uint32_t block_count(bc_state *s, void *uc, uint64_t addr, uint32_t size) {
    uint32_t h = (uint32_t)(((addr >> 1) * 0x9E3779B1u) ^ (size * 0x85EBCA6Bu)) & (TABLE_SIZE - 1);
    for (;;) {
        entry_t *e = &s->table[h];
        if (e->size == 0) break;
        if (e->addr == addr && e->size == size) return e->n;
        h = (h + 1) & (TABLE_SIZE - 1);
    }
    uint32_t n = decode_count(s, uc, addr, size);
    if (s->used >= TABLE_MAX) {          /* full: start over rather than grow */
        memset(s->table, 0, sizeof s->table);
        s->used = 0;
        h = (uint32_t)(((addr >> 1) * 0x9E3779B1u) ^ (size * 0x85EBCA6Bu)) & (TABLE_SIZE - 1);
        while (s->table[h].size != 0) h = (h + 1) & (TABLE_SIZE - 1);
    }
    s->table[h].addr = addr;
    s->table[h].size = size;
    s->table[h].n = n;
    s->used++;
    return n;
}

void bc_block_hook(void *uc, uint64_t addr, uint32_t size, void *user) {
    bc_state *s = (bc_state *)user;
    uint32_t n = 0;
    if (size == 0) s->unknown++;
    else n = block_count(s, uc, addr, size);
    s->count += n;
    s->blocks++;
    s->cur_addr = addr;
    s->cur_size = size;
    s->cur_n = n;
    if (s->count > s->limit && !s->stopped) {
        s->stopped = 1;
        s->emu_stop(uc);
    }
}

/* Instructions of the current block from pc (inclusive) to its end: the part not yet executed when
 * the CPU is at pc. 0 when pc is outside the current block. */
uint32_t bc_remaining(bc_state *s, void *uc, uint64_t pc) {
    if (pc < s->cur_addr || pc >= s->cur_addr + s->cur_size) return 0;
    return decode_count(s, uc, pc, s->cur_addr + s->cur_size - pc);
}

/* Instructions completed before the instruction at pc, which must be in the current block. */
uint64_t bc_count_at(bc_state *s, void *uc, uint64_t pc) {
    return s->count - bc_remaining(s, uc, pc);
}

bc_state *bc_new(void *mem_read, void *emu_stop) {
    bc_state *s = (bc_state *)calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mem_read = (mem_read_fn)mem_read;
    s->emu_stop = (emu_stop_fn)emu_stop;
    s->limit = UINT64_MAX;
    return s;
}

void bc_flush(bc_state *s) {
    memset(s->table, 0, sizeof s->table);
    s->used = 0;
}

void bc_free(bc_state *s) { free(s); }
