/* Native instruction and cycle counter for the emulated board (harness/backends/emulated.py).
 *
 * Registered with uc_hook_add(UC_HOOK_BLOCK): at the start of every translated block Unicorn calls
 * bc_block_hook, which adds the number of Thumb instructions in the block to a 64-bit counter and
 * remembers the block, so that the caller can take back the part of the block that did not run when
 * emulation stops in the middle of it (bc_count_at). The instruction count of a block is decoded once
 * per (address, size) and cached in a small open-addressing table.
 *
 * With cost accounting on (header.cycles_on), the same table entry also holds the block's modelled
 * cost in ticks, asked once from the cost provider (a Python callback, harness/backends/cycles.py):
 * the price when the block is entered sequentially and when it is entered by a branch, the flash lines
 * it fetches, and the extra ticks if its last instruction is a conditional branch that is taken. At
 * each entry the hook settles the previous block's conditional branch (taken when this block does not
 * start where that one ended; on the M7 model through a 2-bit predictor) and adds this block's price.
 * The Python side takes back the unexecuted tail of a block when emulation stops inside it. Flash wait
 * states, the predictor and the per-function profile sit behind one rarely-set flag (header.slow), so
 * the common path stays a handful of loads, adds and stores.
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
#define SITE_BITS 13
#define SITE_SIZE (1u << SITE_BITS)
typedef int (*reg_read_fn)(void *uc, int regid, void *value);
typedef int (*reg_write_fn)(void *uc, int regid, const void *value);

/* Filled by the cost provider for one block (mirrored by emulated._Cost). */
typedef struct {
    uint32_t cost_seq;     /* ticks when entered from the instruction before it */
    uint32_t cost_branch;  /* ticks when entered by a branch */
    uint32_t lines_seq;    /* flash lines it starts to fetch, entered sequentially */
    uint32_t lines_branch; /* ... entered by a branch */
    uint32_t taken;        /* extra ticks when its last instruction is a conditional branch, taken */
    uint32_t flags;        /* COND_FINAL, BACKWARD */
    uint32_t func;         /* profile slot (the function the block is in), < nfuncs */
    uint32_t special;      /* SPECIAL_*: checks the hook makes when the block is entered */
    uint32_t sp_dec;       /* bytes its instructions move SP down (PUSH, SUB SP, ...), for the stack check */
} bc_cost;

/* Per-function totals while profiling (mirrored by emulated._ProfileSlot). */
typedef struct {
    uint64_t instructions;
    uint64_t ticks;
} bc_prof;

typedef int (*cost_fn)(uint64_t addr, uint32_t size, bc_cost *out);

#define TABLE_BITS 14
#define TABLE_SIZE (1u << TABLE_BITS)
#define TABLE_MAX (TABLE_SIZE / 4 * 3)
#define MAX_TRAPS 8
#define PRED_BITS 12
#define PRED_SIZE (1u << PRED_BITS)
#define NOSEQ UINT64_MAX   /* prev_end when the next block cannot be a sequential successor */
#define COND_FINAL 1u      /* cost flags: the last instruction branches only if a condition holds */
#define BACKWARD 2u        /* ... to an address behind it (static prediction: taken) */
#define WATCH_MASKS 1u
#define WATCH_SELFLOOP 2u
/* entry_t.trap: the trap index (1..MAX_TRAPS) in the low bits, and checks made at the block's entry */
#define TRAP_INDEX 0x0Fu
#define SPECIAL_VFP 0x10u      /* has FPU instructions: a fault while CPACR denies CP10/CP11 */
#define SPECIAL_SP 0x20u       /* moves SP down: checked against the stack limit */
#define SPECIAL_NONCODE 0x40u  /* starts outside the ELF's code */
#define SPECIAL_ALIGN 0x80u    /* special_hit: a site (bc_site_hook) with an unaligned address */
#define SPECIAL_DIV0 0x100u    /* special_hit: a divide site with a zero divisor while CCR.DIV_0_TRP */
/* site kinds (bc_add_site) */
#define SITE_WORD 1u           /* LDRD/STRD/LDM/STM/LDREX/STREX: word-aligned always */
#define SITE_TRP_WORD 2u       /* LDR/STR (word): word-aligned while CCR.UNALIGN_TRP */
#define SITE_TRP_HALF 3u       /* LDRH/STRH/LDRSH: halfword-aligned while CCR.UNALIGN_TRP */
#define SITE_DIV 4u            /* SDIV/UDIV: the divisor, while CCR.DIV_0_TRP */
#define CCR_UNALIGN_TRP 8u
#define CCR_DIV_0_TRP 16u

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
    /* modelled cost (cycles_on), in ticks */
    uint64_t ticks;        /* ticks of every block entered so far, the current one in full */
    uint64_t prev_end;     /* end of the block entered last; NOSEQ: the next entry is not sequential */
    uint64_t tick_limit;   /* call stop_check at the first block entered when this much time has passed
                              (ticks with cycles_on, instructions without): `due`, or 0 while `watch` */
    uint64_t due;          /* stop there: an interrupt falls due */
    uint64_t cost_calls;   /* blocks priced by the cost provider */
    uint32_t cycles_on;    /* 1: account cost */
    uint32_t cur_seq;      /* 1: the current block was entered sequentially */
    uint32_t pend_taken;   /* extra ticks if the previous block's conditional branch is taken */
    uint32_t pend_flags;   /* its cost flags; 0 when there is nothing to settle */
    uint32_t flash_penalty;/* ticks per flash line fetched (0: accelerator or cache on) */
    uint32_t mispredict;   /* ticks per mispredicted conditional branch; 0: no predictor */
    uint32_t cost_error;   /* the cost provider failed (the run was stopped) */
    uint32_t profile_on;   /* 1: add instructions and ticks per function into prof[] */
    uint32_t slow;         /* flash_penalty | profile_on: set by bc_settings() */
    uint32_t watch;        /* WATCH_MASKS: stop at the first block where PRIMASK/FAULTMASK/BASEPRI differ
                              from watch_masks (an interrupt is pending but masked by them);
                              WATCH_SELFLOOP: stop when a one-instruction block follows itself (`b .`) */
    uint32_t watch_masks;  /* PRIMASK | FAULTMASK << 1 | BASEPRI << 8, as the engine last saw them */
    uint32_t loop_addr;    /* WATCH_SELFLOOP: the last block entered, if it was one instruction */
    uint32_t fpu_off;      /* 1: CPACR denies CP10/CP11 (a block with SPECIAL_VFP stops: NOCP) */
    uint32_t sp_limit;     /* the lowest SP allowed (the stack's bottom symbol); 0: no check */
    uint32_t special_hit;  /* the SPECIAL_* check that stopped the run (stopped = 5) */
    uint32_t sp_seen;      /* the SP at the entry of the block that failed the stack check */
    uint32_t align_off;    /* 1: skip the alignment checks (the engine runs up to the faulting instruction) */
    uint32_t ccr;          /* SCB CCR as the firmware set it (UNALIGN_TRP, DIV_0_TRP) */
} bc_header;

/* 32 bytes, so that an entry never straddles a cache line. */
typedef struct {
    uint64_t addr;
    uint16_t size;         /* 0 marks an empty slot (a translated block stays within a page) */
    uint16_t func;         /* profile slot */
    uint16_t n;            /* instructions (a translated block has at most a few hundred) */
    uint8_t priced;        /* 1: the cost fields are valid */
    uint8_t flags;         /* COND_FINAL, BACKWARD */
    uint32_t cost_seq;     /* see bc_cost */
    uint32_t cost_branch;
    uint16_t lines_seq;
    uint16_t lines_branch;
    uint16_t taken;
    uint8_t trap;          /* index + 1 of the trap address the block starts at (0: none) | SPECIAL_* */
    uint8_t pad;
} entry_t;

/* An instruction checked by bc_site_hook: address = base + (index << shift) + imm, or the divisor. */
typedef struct {
    uint64_t addr;
    int base;              /* Unicorn register id (the divisor for SITE_DIV) */
    int index;             /* Unicorn register id, -1: none */
    uint8_t shift;
    uint8_t imm;           /* the immediate offset mod 4 */
    uint8_t kind;          /* SITE_* */
    uint8_t pad;
} site_t;


/* ---- The memory system around the core (docs/cycle-model.md, "Memory system") ----------------------
 * Stalls the core's cost table does not contain: instruction fetches from the flash that neither the
 * instruction cache nor the prefetch buffer serves in time. Every parameter is a board fact (the .repl) or
 * a register the firmware wrote (FLASH_ACR, SCB CCR); the engine sets them with bc_mm_config() and
 * bc_mm_state(). Stall ticks are added to the time (h->ticks) and counted apart, so that a report can say
 * how much of a run was the memory system. */
#define MM_MAX_LINES 1024
#define MM_NONE UINT64_MAX

typedef struct {
    uint32_t on;                   /* enabled by the firmware (FLASH_ACR.ICEN, SCB CCR.IC) */
    uint32_t sets, ways;           /* sets (a power of two) x ways <= MM_MAX_LINES */
    uint32_t stamp;                /* LRU clock */
    uint32_t tag[MM_MAX_LINES];    /* line number + 1; 0: invalid */
    uint32_t age[MM_MAX_LINES];
} mm_cache;

/* Counters, mirrored by emulated._MemCounters. */
typedef struct {
    uint64_t fetch_lines;          /* instruction fetches that start a new line of the flash */
    uint64_t icache_hits;          /* ... served by the instruction cache */
    uint64_t prefetched_lines;     /* ... served by the prefetch buffer (sequential) */
    uint64_t icache_misses;        /* ... read from the flash on demand */
    uint64_t stall_ticks;          /* the stalls charged for them */
    uint64_t data_reads;           /* loads from the flash (weights, constants, literal pools) */
    uint64_t dcache_hits;          /* ... served by the data cache (F446: the ART's; F7: the M7's L1) */
    uint64_t dcache_misses;        /* ... that read the flash */
    uint64_t data_stall_ticks;     /* the stalls charged for those reads */
} mm_counters;

typedef struct {
    uint32_t on;                   /* the model is active */
    uint32_t line_shift;           /* log2 of the flash line the fetch side reads (16 B ART, 32 B L1) */
    uint32_t latency;              /* flash wait states x ticks per cycle (FLASH_ACR.LATENCY) */
    uint32_t prefetch;             /* FLASH_ACR.PRFTEN on a board whose prefetch buffer feeds the core */
    uint32_t tpc;                  /* ticks per cycle */
    uint32_t pad;
    uint64_t flash_lo, flash_hi;   /* the flash as the core fetches it: [lo, hi) */
    uint64_t cur_line;             /* the flash line the core executes from (MM_NONE: not flash) */
    uint64_t line_time;            /* ticks at which it arrived (the prefetch of the next starts then) */
    mm_cache icache;
    mm_cache dcache;               /* lines of the data side (dline_shift), flash and cacheable SRAM alike */
    uint32_t dline_shift;
    uint32_t dlatency;             /* ticks a data read from the flash waits when the cache does not hold it */
    uint32_t prof_func;            /* profile slot of the block executing (data stalls are charged to it) */
    uint32_t pad2;
    mm_counters n;
} bc_mem;

typedef struct {
    bc_header h;
    mem_read_fn mem_read;
    emu_stop_fn emu_stop;
    cost_fn price;
    reg_read_fn reg_read;      /* for the mask watch (bc_set_watch_regs) */
    reg_write_fn reg_write;    /* for the IT state after a hooked access (bc_mem_hook) */
    int epsr_reg;              /* Unicorn id of EPSR */
    int mask_regs[3];          /* Unicorn ids of PRIMASK, FAULTMASK, BASEPRI */
    int sp_reg;                /* ... and of SP */
    bc_prof *prof;             /* profile slots (owned by the caller), nfuncs of them */
    uint32_t nfuncs;
    uint32_t used;
    entry_t table[TABLE_SIZE] __attribute__((aligned(64)));
    uint8_t pred[PRED_SIZE];   /* 2-bit counters + 1 (0: never seen) */
    uint32_t miss_ticks[20];   /* pred_miss[] * mispredict */
    uint32_t sp_dec[TABLE_SIZE];   /* per entry: bc_cost.sp_dec */
    site_t sites[SITE_SIZE];       /* instructions checked by bc_site_hook (addr 0: empty slot) */
    bc_mem mm;                     /* the memory system around the core (bc_mm_*) */
} bc_state;

static uint32_t mm_fetch(bc_state *s, uint64_t addr, uint32_t size, uint64_t t0, uint32_t own);

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

static entry_t zero_entry;      /* for blocks Unicorn reports without a size */

/* The entry of (addr, size), created on first sight: instruction count decoded, not priced yet. */
static __attribute__((noinline)) entry_t *block_entry(bc_state *s, void *uc, uint64_t addr, uint32_t size) {
    bc_header *hd = &s->h;
    if (size == 0 || size > 0xFFFF) {
        hd->unknown++;
        return &zero_entry;
    }
    uint32_t h = slot_of(addr, size);
    while (s->table[h].size != 0) {
        if (s->table[h].addr == addr && s->table[h].size == size) return &s->table[h];
        h = (h + 1) & (TABLE_SIZE - 1);
    }
    uint32_t n = decode_count(s, uc, addr, size);
    if (s->used >= TABLE_MAX) {          /* full: start over rather than grow */
        memset(s->table, 0, sizeof s->table);
        s->used = 0;
        h = slot_of(addr, size);
    }
    entry_t *e = &s->table[h];
    memset(e, 0, sizeof *e);
    e->addr = addr;
    e->size = (uint16_t)size;
    e->n = (uint16_t)(n > 0xFFFF ? 0xFFFF : n);
    for (uint32_t i = 0; i < hd->ntraps; i++) {
        if (hd->traps[i] == addr) {
            e->trap = (uint8_t)(i + 1);
            break;
        }
    }
    s->used++;
    return e;
}

/* Predictor slot of the branch that ends at `end`: direct-mapped on the halfword address. */
static inline uint32_t pred_slot(uint64_t end) {
    return (uint32_t)(end >> 1) & (PRED_SIZE - 1);
}

/* Ask the cost provider for the block's price and keep it in its entry. */
static __attribute__((noinline)) void price(bc_state *s, void *uc, entry_t *e, uint64_t addr, uint32_t size) {
    bc_header *h = &s->h;
    bc_cost c;
    memset(&c, 0, sizeof c);
    if (e == &zero_entry) return;
    if (!s->price || s->price(addr, size, &c) != 0 || c.lines_seq > 0xFFFF || c.lines_branch > 0xFFFF
            || c.taken > 0xFFFF || (s->prof && c.func >= s->nfuncs) || c.func > 0xFFFF) {
        h->cost_error = 1;
        memset(&c, 0, sizeof c);
        s->emu_stop(uc);
    }
    e->cost_seq = c.cost_seq;
    e->cost_branch = c.cost_branch;
    e->lines_seq = (uint16_t)c.lines_seq;
    e->lines_branch = (uint16_t)c.lines_branch;
    e->taken = (uint16_t)(c.flags & COND_FINAL ? c.taken : 0);
    e->flags = (uint8_t)c.flags;
    e->func = (uint16_t)c.func;
    e->trap = (uint8_t)((e->trap & TRAP_INDEX) | (c.special & ~TRAP_INDEX & 0xFFu));
    s->sp_dec[e - s->table] = c.sp_dec;
    e->priced = 1;
    h->cost_calls++;
}

/* The 2-bit predictor as tables (no data-dependent branches in the hook). A predictor byte is 0 for a
 * branch not seen yet, else counter + 1 (counter 0..3, taken predicted at 2 and 3); an unseen branch
 * starts weakly taken (2) for a backward target, weakly not taken (1) otherwise. Index: byte * 4 +
 * backward * 2 + taken. */
static const uint8_t pred_miss[20] = {
    /* unseen, forward: ctr 1 */ 0, 1, /* unseen, backward: ctr 2 */ 1, 0,
    /* ctr 0 */ 0, 1, 0, 1,  /* ctr 1 */ 0, 1, 0, 1,  /* ctr 2 */ 1, 0, 1, 0,  /* ctr 3 */ 1, 0, 1, 0,
};
static const uint8_t pred_next[20] = {
    /* unseen, forward: 1 -> 0 / 2 */ 1, 3, /* unseen, backward: 2 -> 1 / 3 */ 2, 4,
    /* ctr 0 */ 1, 2, 1, 2,  /* ctr 1 */ 1, 3, 1, 3,  /* ctr 2 */ 2, 4, 2, 4,  /* ctr 3 */ 3, 4, 3, 4,
};

/* The rarely needed parts of account(): flash wait states and the profile. Returns the block's own
 * flash penalty (part of its own price). */
static __attribute__((noinline)) uint32_t account_slow(bc_state *s, entry_t *e, uint32_t seq, uint32_t cost) {
    bc_header *h = &s->h;
    uint32_t lines = 0;
    if (h->flash_penalty) lines = (uint32_t)(seq ? e->lines_seq : e->lines_branch) * h->flash_penalty;
    if (h->profile_on && s->prof) {
        s->mm.prof_func = e->func;
        s->prof[e->func].instructions += e->n;
        s->prof[e->func].ticks += cost + lines;
    }
    return lines;
}

/* Settle the previous block's conditional branch and charge this block. `predicted` (a constant: the
 * hook comes in two builds) adds the branch predictor of the M7 model: a 2-bit counter per branch,
 * starting weakly taken for a backward target, weakly not taken otherwise. The price charged for the
 * block itself (without the settled branch) is not stored: the caller recomputes it from cur_seq; it is
 * returned, so that the hook knows the time at which this block starts. */
static inline __attribute__((always_inline)) uint32_t account(bc_state *s, void *uc, entry_t *e, uint64_t addr,
                                                              uint32_t size, const int predicted) {
    bc_header *h = &s->h;
    if (__builtin_expect(!e->priced, 0)) price(s, uc, e, addr, size);
    uint64_t end = addr + size;
    uint32_t seq = addr == h->prev_end;
    uint32_t own = seq ? e->cost_seq : e->cost_branch;
    uint32_t cost = seq ? own : own + h->pend_taken;   /* pend_taken: 0 unless conditional */
    if (predicted) {
        if (h->pend_flags & COND_FINAL) {
            uint8_t *p = &s->pred[pred_slot(h->prev_end)];    /* prev_end: where the pending branch ends */
            uint32_t i = (uint32_t)*p * 4 + ((h->pend_flags & BACKWARD) ? 2u : 0u) + !seq;
            cost += s->miss_ticks[i];
            *p = pred_next[i];
        }
        h->pend_flags = e->flags;
    }
    if (s->mm.on) {
        uint32_t stall = mm_fetch(s, addr, size, h->ticks + (cost - own), own);
        cost += stall;
        own += stall;
    }
    if (__builtin_expect(h->slow != 0, 0)) {
        uint32_t lines = account_slow(s, e, seq, cost);
        cost += lines;
        own += lines;
    }
    h->ticks += cost;
    h->cur_seq = seq;
    h->pend_taken = e->taken;
    h->prev_end = end;
    return own;
}

static uint32_t read_masks(bc_state *s, void *uc) {
    uint32_t v[3] = {0, 0, 0};
    if (!s->reg_read) return 0;
    for (int i = 0; i < 3; i++) s->reg_read(uc, s->mask_regs[i], &v[i]);
    return (v[0] & 1) | (v[1] & 1) << 1 | (v[2] & 0xFF) << 8;
}

/* `before`: the time (ticks, or instructions without cost accounting) at which this block starts. A stop
 * at the tick limit or on a mask change comes before the block runs: it is the boundary where the engine
 * takes an interrupt. */
static __attribute__((noinline)) void stop_check(bc_state *s, void *uc, entry_t *e, uint64_t addr,
                                                 uint64_t before) {
    bc_header *h = &s->h;
    if (h->stopped) return;
    if (h->watch & WATCH_SELFLOOP) {
        /* `b.n .` (0xE7FE) or `b.w .` (0xF7FF 0xBFFE) stops before it runs; any other one-instruction
         * block stops when it follows itself */
        uint8_t code[4] = {0, 0, 0, 0};
        int self_branch = 0;
        if (e->n == 1 && s->mem_read(uc, addr, code, e->size) == 0) {
            uint32_t w = (uint32_t)code[0] | code[1] << 8 | (uint32_t)code[2] << 16 | (uint32_t)code[3] << 24;
            self_branch = (e->size == 2 && w == 0xE7FEu) || (e->size == 4 && w == 0xBFFEF7FFu);
        }
        if (self_branch || (e->n == 1 && (uint32_t)addr == h->loop_addr)) {
            h->stopped = 4;
            s->emu_stop(uc);
            return;
        }
        h->loop_addr = e->n == 1 ? (uint32_t)addr : 0;
    }
    if (e->trap & ~TRAP_INDEX) {
        uint32_t hit = 0;
        if ((e->trap & SPECIAL_NONCODE)) hit = SPECIAL_NONCODE;
        else if ((e->trap & SPECIAL_VFP) && h->fpu_off) hit = SPECIAL_VFP;
        else if ((e->trap & SPECIAL_SP) && h->sp_limit && s->reg_read) {
            uint32_t sp = 0;
            s->reg_read(uc, s->sp_reg, &sp);
            if ((uint64_t)sp < (uint64_t)h->sp_limit + s->sp_dec[e - s->table]) {
                hit = SPECIAL_SP;
                h->sp_seen = sp;
            }
        }
        if (hit) {
            h->special_hit = hit;
            h->stopped = 5;
            s->emu_stop(uc);
            return;
        }
    }
    if (e->trap & TRAP_INDEX) {
        h->trap_hit = e->trap & TRAP_INDEX;
        h->stopped = 2;
        s->emu_stop(uc);
        return;
    }
    if (before >= h->due || ((h->watch & WATCH_MASKS) && read_masks(s, uc) != h->watch_masks)) {
        h->stopped = 3;
        s->emu_stop(uc);
        return;
    }
    if (h->count > h->limit) {
        h->stopped = 1;
        s->emu_stop(uc);
    }
}

static inline __attribute__((always_inline)) void block_hook(void *uc, uint64_t addr, uint32_t size, void *user,
                                                             const int predicted) {
    bc_state *s = (bc_state *)user;
    bc_header *h = &s->h;
    entry_t *e = &s->table[slot_of(addr, size)];
    if (__builtin_expect(e->addr != addr || e->size != size || size == 0, 0)) e = block_entry(s, uc, addr, size);
    uint32_t n = e->n;
    h->count += n;
    h->blocks++;
    h->cur_addr = addr;
    h->cur_size = size;
    h->cur_n = n;
    uint64_t before = h->count - n;
    if (h->cycles_on) {
        uint32_t own = account(s, uc, e, addr, size, predicted);   /* adds to h->ticks: call it first */
        before = h->ticks - own;
    }
    if (__builtin_expect(e->trap | (h->count > h->limit) | (before >= h->tick_limit), 0))
        stop_check(s, uc, e, addr, before);
}

/* The UC_HOOK_BLOCK callbacks: without a branch predictor (M4 model, or no cost accounting) and with. */
void bc_block_hook(void *uc, uint64_t addr, uint32_t size, void *user) {
    block_hook(uc, addr, size, user, 0);
}

void bc_block_hook_predicted(void *uc, uint64_t addr, uint32_t size, void *user) {
    block_hook(uc, addr, size, user, 1);
}


/* ---- memory system ---------------------------------------------------------------------------------- */

/* 1 when `line` is in the cache (it becomes the most recently used); else it is filled, replacing the
 * least recently used line of its set, and 0. */
static int cache_access(mm_cache *c, uint64_t line) {
    uint32_t set = (uint32_t)line & (c->sets - 1);
    uint32_t *tag = &c->tag[set * c->ways], *age = &c->age[set * c->ways];
    uint32_t t = (uint32_t)line + 1, victim = 0, oldest = UINT32_MAX;
    c->stamp++;
    for (uint32_t w = 0; w < c->ways; w++) {
        if (tag[w] == t) {
            age[w] = c->stamp;
            return 1;
        }
        if (age[w] < oldest) {
            oldest = age[w];
            victim = w;
        }
    }
    tag[victim] = t;
    age[victim] = c->stamp;
    return 0;
}

/* Stall ticks of fetching the block [addr, addr + size) whose core cost is `own` ticks, starting at tick
 * `t0`. The block's lines are needed in order; line k is needed when the block's cost, spread evenly
 * over its bytes, reaches its first byte (plus the stalls before it). A line is free when it is the one
 * the core is executing from or the instruction cache holds it; a sequential line comes from the prefetch
 * buffer, which started reading it when the line before it arrived and needs latency + 1 cycles (RM0390
 * 3.5.2); any other line is read on demand: `latency` ticks. Lines read from the flash fill the cache. */
static __attribute__((noinline)) uint32_t mm_fetch(bc_state *s, uint64_t addr, uint32_t size, uint64_t t0,
                                                   uint32_t own) {
    bc_mem *m = &s->mm;
    if (addr < m->flash_lo || addr >= m->flash_hi) {
        m->cur_line = MM_NONE;
        return 0;
    }
    uint64_t first = addr >> m->line_shift, last = (addr + size - 1) >> m->line_shift;
    uint64_t stall = 0;
    for (uint64_t line = first; line <= last; line++) {
        if (line == m->cur_line) continue;
        uint64_t start = line == first ? addr : line << m->line_shift;
        uint64_t t = t0 + stall + (size ? (uint64_t)own * (start - addr) / size : 0);
        uint64_t wait;
        m->n.fetch_lines++;
        if (m->icache.on && cache_access(&m->icache, line)) {
            m->n.icache_hits++;
            wait = 0;
        } else if (m->prefetch && line == m->cur_line + 1 && m->cur_line != MM_NONE) {
            uint64_t ready = m->line_time + m->latency + m->tpc;
            m->n.prefetched_lines++;
            wait = ready > t ? ready - t : 0;
        } else {
            m->n.icache_misses++;
            wait = m->latency;
        }
        stall += wait;
        m->cur_line = line;
        m->line_time = t + wait;
    }
    m->n.stall_ticks += stall;
    return (uint32_t)stall;
}

/* Geometry (board facts); 0 on success, -1 when the cache is larger than the model holds. */
int bc_mm_config(bc_state *s, uint64_t flash_lo, uint64_t flash_hi, uint32_t line_shift, uint32_t isets,
                 uint32_t iways, uint32_t tpc) {
    bc_mem *m = &s->mm;
    memset(m, 0, sizeof *m);
    m->flash_lo = flash_lo;
    m->flash_hi = flash_hi;
    m->line_shift = line_shift;
    m->tpc = tpc;
    m->cur_line = MM_NONE;
    if (isets * iways > MM_MAX_LINES || (isets & (isets - 1))) return -1;
    m->icache.sets = isets;
    m->icache.ways = iways;
    m->on = 1;
    return 0;
}

/* The data side's geometry (board facts): 0 on success, -1 when the cache is larger than the model holds. */
int bc_mm_config_data(bc_state *s, uint32_t line_shift, uint32_t sets, uint32_t ways) {
    bc_mem *m = &s->mm;
    if (sets * ways > MM_MAX_LINES || (sets & (sets - 1))) return -1;
    m->dline_shift = line_shift;
    m->dcache.sets = sets;
    m->dcache.ways = ways;
    return 0;
}

/* What the firmware set: wait states (ticks), prefetch, and whether the instruction and data caches are
 * on. A cache switched on starts empty (the firmware invalidates it, or it comes out of reset invalid). */
void bc_mm_state(bc_state *s, uint32_t latency, uint32_t prefetch, uint32_t icache_on, uint32_t dcache_on) {
    bc_mem *m = &s->mm;
    m->latency = latency;
    m->dlatency = latency;
    m->prefetch = prefetch;
    icache_on = icache_on && m->icache.sets;
    if (icache_on && !m->icache.on) memset(m->icache.tag, 0, sizeof m->icache.tag);
    m->icache.on = icache_on;
    dcache_on = dcache_on && m->dcache.sets;
    if (dcache_on && !m->dcache.on) memset(m->dcache.tag, 0, sizeof m->dcache.tag);
    m->dcache.on = dcache_on;
}

/* The IT bits of EPSR: ICI/IT[7:2] at 15:10, IT[1:0] at 26:25. */
#define EPSR_IT_BITS 0x0600FC00u
#define UC_MEM_WRITE_TYPE 17       /* uc_mem_type UC_MEM_WRITE (unicorn.h) */

/* Unicorn UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE callback, registered on the ranges the data side sees: the
 * flash (reads) and, on the M7, the cacheable SRAM (reads and writes, which share the D-cache's lines).
 * A data read from the flash waits `dlatency` ticks unless the data cache holds its line; an access to the
 * SRAM waits nothing (zero wait states) but fills the cache like any other. The stall is charged at once
 * (the block's own cost was charged at its entry), counted apart, and to the running function's profile.
 *
 * Then the IT state is put back. Unicorn restores the CPU state from the translated block before calling
 * a memory hook (cpu_restore_state), which writes the current instruction's IT bits into EPSR; translated
 * code only writes them when a block ends inside an IT block, so after an IT block that ends within the
 * block, the stale bits would condition the next block's instructions (unicorn-engine/unicorn#2309). Inside
 * a block they are 0 by QEMU's invariant (arm_tr_tb_start clears them), so clearing them restores it. */
void bc_mem_hook(void *uc, int type, uint64_t addr, int size, int64_t value, void *user) {
    (void)value;
    bc_state *s = (bc_state *)user;
    bc_mem *m = &s->mm;
    if (m->on && s->h.cycles_on) {
        int flash = addr >= m->flash_lo && addr < m->flash_hi;
        uint64_t first = addr >> m->dline_shift, last = (addr + (size ? size : 1) - 1) >> m->dline_shift;
        uint64_t stall = 0;
        for (uint64_t line = first; line <= last; line++) {
            int hit = m->dcache.on && cache_access(&m->dcache, line);
            if (!flash || type == UC_MEM_WRITE_TYPE) continue;
            m->n.data_reads++;
            if (hit) {
                m->n.dcache_hits++;
            } else {
                m->n.dcache_misses++;
                stall += m->dlatency;
            }
        }
        if (stall) {
            s->h.ticks += stall;
            m->n.data_stall_ticks += stall;
            if (s->h.profile_on && s->prof) s->prof[m->prof_func].ticks += stall;
        }
    }
    uint32_t epsr = 0;
    if (s->reg_read(uc, s->epsr_reg, &epsr) == 0 && (epsr & EPSR_IT_BITS)) {
        epsr &= ~EPSR_IT_BITS;
        s->reg_write(uc, s->epsr_reg, &epsr);
    }
}

/* The register access functions of Unicorn (uc_reg_read/uc_reg_write) and EPSR's id, for bc_mem_hook. */
void bc_set_psr_access(bc_state *s, void *reg_read, void *reg_write, int epsr) {
    s->reg_read = (reg_read_fn)reg_read;
    s->reg_write = (reg_write_fn)reg_write;
    s->epsr_reg = epsr;
}

/* Emulation stopped before the instruction at `pc` (at tick `t`) in a block whose lines were all fetched at
 * its entry: execution resumes in the line it stands in, which has arrived (the lines after it stay
 * charged, fetched once). */
void bc_mm_resume(bc_state *s, uint64_t pc, uint64_t t) {
    bc_mem *m = &s->mm;
    if (!m->on || pc < m->flash_lo || pc >= m->flash_hi) return;
    m->cur_line = pc >> m->line_shift;
    m->line_time = t;
}

/* The counters (mm_counters) copied to `out`. */
void bc_mm_counters(bc_state *s, void *out) { memcpy(out, &s->mm.n, sizeof s->mm.n); }
uint32_t bc_mm_counters_size(void) { return (uint32_t)sizeof(mm_counters); }

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

/* A checked instruction (see site_t); the caller registers bc_site_hook on its address alone. */
int bc_add_site(bc_state *s, uint64_t addr, uint32_t kind, int base, int index, uint32_t shift, uint32_t imm) {
    uint32_t h = (uint32_t)(addr >> 1) & (SITE_SIZE - 1);
    for (uint32_t k = 0; k < SITE_SIZE; k++, h = (h + 1) & (SITE_SIZE - 1)) {
        site_t *t = &s->sites[h];
        if (t->addr == 0 || t->addr == addr) {
            t->addr = addr;
            t->base = base;
            t->index = index;
            t->shift = (uint8_t)shift;
            t->imm = (uint8_t)(imm & 3);
            t->kind = (uint8_t)kind;
            return 0;
        }
    }
    return -1;
}

/* UC_HOOK_CODE callback, registered on each site alone (begin = end = its address), so it costs nothing
 * elsewhere. Unicorn does not fault an unaligned LDRD/STRD/LDM/STM (silicon does, UsageFault UNALIGNED,
 * whatever CCR.UNALIGN_TRP says), nor an unaligned LDR/STR/LDRH/STRH under CCR.UNALIGN_TRP, nor a divide
 * by zero under CCR.DIV_0_TRP (UsageFault DIVBYZERO). A stop here comes before the instruction runs. */
void bc_site_hook(void *uc, uint64_t addr, uint32_t size, void *user) {
    bc_state *s = (bc_state *)user;
    bc_header *h = &s->h;
    (void)size;
    if (h->align_off || h->stopped || !s->reg_read) return;
    uint32_t k = (uint32_t)(addr >> 1) & (SITE_SIZE - 1);
    while (s->sites[k].addr != addr) {
        if (s->sites[k].addr == 0) return;
        k = (k + 1) & (SITE_SIZE - 1);
    }
    const site_t *t = &s->sites[k];
    if ((t->kind == SITE_TRP_WORD || t->kind == SITE_TRP_HALF) && !(h->ccr & CCR_UNALIGN_TRP)) return;
    if (t->kind == SITE_DIV && !(h->ccr & CCR_DIV_0_TRP)) return;
    uint32_t v = 0, x = 0;
    s->reg_read(uc, t->base, &v);
    if (t->kind == SITE_DIV) {
        if (v == 0) {
            h->special_hit = SPECIAL_DIV0;
            h->stopped = 5;
            s->emu_stop(uc);
        }
        return;
    }
    if (t->index >= 0) {
        s->reg_read(uc, t->index, &x);
        v += x << t->shift;
    }
    v += t->imm;
    if (v & (t->kind == SITE_TRP_HALF ? 1u : 3u)) {
        h->special_hit = SPECIAL_ALIGN;
        h->stopped = 5;
        s->emu_stop(uc);
    }
}

/* No more trap addresses (the firmware's fault handlers are now entered as exceptions). */
void bc_clear_traps(bc_state *s) {
    s->h.ntraps = 0;
    for (uint32_t i = 0; i < TABLE_SIZE; i++) s->table[i].trap &= (uint8_t)~TRAP_INDEX;
}

/* Unicorn's uc_reg_read and the ids of PRIMASK, FAULTMASK and BASEPRI, for the mask watch. */
void bc_set_watch_regs(bc_state *s, void *reg_read, int primask, int faultmask, int basepri, int sp) {
    s->reg_read = (reg_read_fn)reg_read;
    s->sp_reg = sp;
    s->mask_regs[0] = primask;
    s->mask_regs[1] = faultmask;
    s->mask_regs[2] = basepri;
}

bc_state *bc_new(void *mem_read, void *emu_stop) {
    size_t bytes = (sizeof(bc_state) + 63) & ~(size_t)63;
    bc_state *s = (bc_state *)aligned_alloc(64, bytes);
    if (!s) return NULL;
    memset(s, 0, bytes);
    s->mem_read = (mem_read_fn)mem_read;
    s->emu_stop = (emu_stop_fn)emu_stop;
    s->h.limit = UINT64_MAX;
    s->h.tick_limit = s->h.due = UINT64_MAX;
    s->h.prev_end = NOSEQ;
    return s;
}

/* Call after changing flash_penalty, mispredict or profile_on. A non-zero mispredict needs the hook
 * bc_block_hook_predicted. */
void bc_settings(bc_state *s) {
    bc_header *h = &s->h;
    h->slow = (h->flash_penalty | h->profile_on) != 0;
    for (uint32_t i = 0; i < 20; i++) s->miss_ticks[i] = pred_miss[i] * h->mispredict;
}

/* Profile slots: `nfuncs` bc_prof records at `prof` (NULL: none); prices cached so far are dropped. */
void bc_set_profile(bc_state *s, void *prof, uint32_t nfuncs) {
    s->prof = (bc_prof *)prof;
    s->nfuncs = nfuncs;
    for (uint32_t i = 0; i < TABLE_SIZE; i++) s->table[i].priced = 0;
}

/* Drop cached prices (the cost rules or the provider changed); counts stay cached. */
void bc_forget_prices(bc_state *s) {
    for (uint32_t i = 0; i < TABLE_SIZE; i++) s->table[i].priced = 0;
}

/* The cost provider (NULL: none); prices cached so far are dropped. */
void bc_set_pricer(bc_state *s, void *fn) {
    s->price = (cost_fn)fn;
    bc_forget_prices(s);
}

/* Forget cached block sizes and prices (code may have changed), the predictor, and zero the header. */
void bc_reset(bc_state *s) {
    uint32_t on = s->h.cycles_on, mispredict = s->h.mispredict, profile = s->h.profile_on;
    memset(&s->h, 0, sizeof s->h);
    s->h.limit = UINT64_MAX;
    s->h.tick_limit = s->h.due = UINT64_MAX;
    s->h.prev_end = NOSEQ;
    s->h.cycles_on = on;
    s->h.mispredict = mispredict;
    s->h.profile_on = profile;
    bc_settings(s);
    if (s->prof) memset(s->prof, 0, sizeof(bc_prof) * s->nfuncs);
    memset(s->table, 0, sizeof s->table);
    memset(s->pred, 0, sizeof s->pred);
    s->used = 0;
    memset(&s->mm.n, 0, sizeof s->mm.n);
    memset(s->mm.icache.tag, 0, sizeof s->mm.icache.tag);
    s->mm.icache.on = 0;
    s->mm.latency = s->mm.prefetch = 0;
    s->mm.cur_line = MM_NONE;
}

void bc_free(bc_state *s) { free(s); }

uint32_t bc_max_traps(void) { return MAX_TRAPS; }
uint32_t bc_header_size(void) { return (uint32_t)sizeof(bc_header); }
uint32_t bc_cost_size(void) { return (uint32_t)sizeof(bc_cost); }

_Static_assert(sizeof(entry_t) == 32, "entry_t is meant to be 32 bytes");
