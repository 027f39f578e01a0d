/* The executor: the planner has already ordered the ops, chosen each op's kernel and placed every
 * tensor in the arena, so an inference is a walk over the op table. */
#include "tm_runtime.h"

tm_status_t tm_invoke(const tm_model_t *m, uint8_t *arena)
{
    for (uint32_t i = 0; i < m->n_ops; i++) {
        tm_status_t s = m->ops[i].run(m->ops[i].params, arena);
        if (s != TM_OK) {
            return s;
        }
    }
    return TM_OK;
}
