/* The executor: the planner has already ordered the ops and placed every tensor in the arena, so an
 * inference is a walk over the op table, each entry dispatched to its kernel by opcode. */
#include "tm_runtime.h"
#include "tm_kernels.h"

typedef tm_status_t (*tm_kernel_fn)(const void *params, uint8_t *arena);

static tm_status_t run_fully_connected_s8(const void *p, uint8_t *arena) { return tm_fully_connected_s8(p, arena); }

static const tm_kernel_fn kernels[] = {
    [TM_OP_FULLY_CONNECTED_S8] = run_fully_connected_s8,
};

tm_status_t tm_invoke(const tm_model_t *m, uint8_t *arena)
{
    for (uint32_t i = 0; i < m->n_ops; i++) {
        const tm_op_t *op = &m->ops[i];
        if (op->opcode >= sizeof kernels / sizeof kernels[0] || !kernels[op->opcode]) {
            return TM_ERR_OP;
        }
        tm_status_t s = kernels[op->opcode](op->params, arena);
        if (s != TM_OK) {
            return s;
        }
    }
    return TM_OK;
}
