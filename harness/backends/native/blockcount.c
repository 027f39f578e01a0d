/* Native instruction counter for the emulated board (harness/backends/emulated.py).
 *
 * Registered with uc_hook_add(UC_HOOK_BLOCK): at the start of every translated block Unicorn calls
 * bc_block_hook, which adds the number of Thumb instructions in the block to a 64-bit counter and
 * remembers the block, so that the caller can take back the part of the block that did not run when
 * emulation stops in the middle of it (bc_count_at). The instruction count of a block is decoded once
 * per (address, size) and cached in a small open-addressing table.
 *
 * The hook also asks Unicorn to stop when the counter passes `limit` (instruction budget, or 0 for "stop
 * at the next block": the block is then not executed) and when a block starts at one of the `traps`
 * addresses (the firmware's fault handlers).
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
#define MAX_TRAPS 8

/* Mirrored field for field by a ctypes.Structure in emulated.py (_Header): keep the two in step. */
typedef struct {
    uint64_t count;        /* instructions of every block entered so far, the current one in full */
    uint64_t limit;        /* stop at the first block that takes count past this */
    uint64_t cur_addr;     /* the block entered last */
    uint32_t cur_size;     /* its size in bytes */
    uint32_t cur_n;        /* its instruction count */
    uint32_t stopped;      /* 1: stopped at the limit, 2: stopped at a trap address */
    uint32_t trap_hit;     /* index + 1 of the trap address reached */
    uint64_t blocks;       /* blocks entered */
    uint64_t unknown;      /* blocks Unicorn gave no size for (the count would be inexact) */
    uint32_t ntraps;
    uint32_t pad;
    uint64_t traps[MAX_TRAPS];
} bc_header;

typedef struct {
    uint64_t addr;
    uint32_t size;         /* 0 marks an empty slot */
    uint32_t n;
} entry_t;

typedef struct {
    bc_header h;
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
        if (i == 0) break;
        off += i;          /* a wide instruction may straddle the chunk end: go on after it */
    }
    return n;
}

static uint32_t slot_of(uint64_t addr, uint32_t size) {
    return (uint32_t)(((addr >> 1) * 0x9E3779B1u) ^ (size * 0x85EBCA6Bu)) & (TABLE_SIZE - 1);
}

static uint32_t block_count(bc_state *s, void *uc, uint64_t addr, uint32_t size) {
    uint32_t h = slot_of(addr, size);
    while (s->table[h].size != 0) {
        if (s->table[h].addr == addr && s->table[h].size == size) return s->table[h].n;
        h = (h + 1) & (TABLE_SIZE - 1);
    }
    uint32_t n = decode_count(s, uc, addr, size);
    if (s->used >= TABLE_MAX) {          /* full: start over rather than grow */
        memset(s->table, 0, sizeof s->table);
        s->used = 0;
        h = slot_of(addr, size);
    }
    s->table[h].addr = addr;
    s->table[h].size = size;
    s->table[h].n = n;
    s->used++;
    return n;
}

void bc_block_hook(void *uc, uint64_t addr, uint32_t size, void *user) {
    bc_state *s = (bc_state *)user;
    bc_header *h = &s->h;
    uint32_t n = 0;
    if (size == 0) h->unknown++;
    else n = block_count(s, uc, addr, size);
    h->count += n;
    h->blocks++;
    h->cur_addr = addr;
    h->cur_size = size;
    h->cur_n = n;
    if (h->stopped) return;
    for (uint32_t i = 0; i < h->ntraps; i++) {
        if (h->traps[i] == addr) {
            h->trap_hit = i + 1;
            h->stopped = 2;
            s->emu_stop(uc);
            return;
        }
    }
    if (h->count > h->limit) {
        h->stopped = 1;
        s->emu_stop(uc);
    }
}

/* Instructions of the current block from pc (inclusive) to its end: the part not executed when the
 * CPU stands at pc. 0 when pc is outside the current block. */
uint32_t bc_remaining(bc_state *s, void *uc, uint64_t pc) {
    bc_header *h = &s->h;
    if (pc < h->cur_addr || pc >= h->cur_addr + h->cur_size) return 0;
    return decode_count(s, uc, pc, h->cur_addr + h->cur_size - pc);
}

/* Instructions completed before the instruction at pc (pc in the current block, or just after it). */
uint64_t bc_count_at(bc_state *s, void *uc, uint64_t pc) {
    return s->h.count - bc_remaining(s, uc, pc);
}

bc_state *bc_new(void *mem_read, void *emu_stop) {
    bc_state *s = (bc_state *)calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mem_read = (mem_read_fn)mem_read;
    s->emu_stop = (emu_stop_fn)emu_stop;
    s->h.limit = UINT64_MAX;
    return s;
}

/* Forget cached block sizes (code may have changed) and zero the header. */
void bc_reset(bc_state *s) {
    memset(&s->h, 0, sizeof s->h);
    s->h.limit = UINT64_MAX;
    memset(s->table, 0, sizeof s->table);
    s->used = 0;
}

void bc_free(bc_state *s) { free(s); }

uint32_t bc_max_traps(void) { return MAX_TRAPS; }
uint32_t bc_header_size(void) { return (uint32_t)sizeof(bc_header); }
