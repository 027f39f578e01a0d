/* One reference kernel per op, named tm_<op>_<dtype>; each reads its parameters from the model image
 * and its tensors from the arena, and never allocates. */
#ifndef TM_KERNELS_H
#define TM_KERNELS_H
#include "tm_runtime.h"

tm_status_t tm_fully_connected_s8(const tm_fc_params_t *p, uint8_t *arena);
#endif
