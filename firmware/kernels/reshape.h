#ifndef TM_RESHAPE_H
#define TM_RESHAPE_H
/* RESHAPE, SQUEEZE and EXPAND_DIMS have no kernel: the planner (harness/plan/memory.py) gives the output
 * the input's arena bytes, so the op costs nothing at run time and does not appear in the op table. */
#endif
