/* The model-independent interface between the firmware's command loop and our inference runtime.
 * The planner (harness/plan) emits model_data.c, which defines `tm_model` and the arena; everything
 * quantization-related was computed offline on the host, the C side only applies it. */
#ifndef TM_RUNTIME_H
#define TM_RUNTIME_H
#include <stdint.h>
#include <stddef.h>

typedef enum { TM_OK = 0, TM_ERR_OP = 1, TM_ERR_PARAM = 2 } tm_status_t;

typedef enum { TM_INT8 = 0, TM_INT16 = 1, TM_FLOAT32 = 2, TM_INT32 = 3, TM_UINT8 = 4 } tm_dtype_t;

/* A kernel: reads its parameters from the model image and its tensors from the arena; never allocates. */
typedef tm_status_t (*tm_kernel_fn)(const void *params, uint8_t *arena);

typedef struct {
    tm_kernel_fn run;            /* named by the model image: only the kernels a model uses are linked */
    const void *params;
} tm_op_t;

typedef struct {
    uint32_t offset;             /* in the arena */
    uint32_t bytes;
    uint8_t  dtype;              /* tm_dtype_t */
    float    scale;
    int32_t  zero_point;
} tm_io_t;

/* What `infer` reports (m-results-[...]): the output's values, or, for an autoencoder benchmark (MLPerf
 * Tiny ad01), the mean squared error of the dequantized output against the float32 input downloaded. */
typedef enum { TM_RESULT_VALUES = 0, TM_RESULT_MSE = 1 } tm_result_t;

typedef struct {
    const char *name;            /* reported by `profile%`: the MLPerf Tiny benchmark id, or the model id */
    uint8_t  wire;               /* tm_dtype_t of the elements `db load N` downloads (see db.c) */
    uint8_t  result;             /* tm_result_t */
    uint32_t wire_bytes;         /* a complete `db load` download */
    uint8_t *db;                 /* where `db` bytes land: a buffer of their own (tm_db_buffer), or */
    uint8_t  db_is_input;        /* the input tensor itself, when the plan keeps it whole (db.c), */
    uint8_t  infer_once;         /* or when it lets later tensors reuse the input's bytes: then each
                                    download feeds one inference (an image that fits only without a
                                    buffer of its own: harness/pipeline.py build_or_measure) */
    uint32_t arena_bytes;
    uint32_t n_ops;
    const tm_op_t *ops;
    tm_io_t input, output;       /* the first input and output tensor, in the graph's order; */
    uint32_t n_more_inputs;      /* a model with several has the others here, in that order (an image */
    uint32_t n_more_outputs;     /* of one input and one output leaves them 0 and NULL) */
    const tm_io_t *more_inputs;
    const tm_io_t *more_outputs;
} tm_model_t;

extern const tm_model_t tm_model;
extern uint8_t tm_arena[];

tm_status_t tm_invoke(const tm_model_t *m, uint8_t *arena);

/* The model's i-th input / output tensor in the graph's order, i < tm_n_inputs / tm_n_outputs. */
static inline uint32_t tm_n_inputs(const tm_model_t *m) { return 1 + m->n_more_inputs; }
static inline uint32_t tm_n_outputs(const tm_model_t *m) { return 1 + m->n_more_outputs; }
static inline const tm_io_t *tm_input(const tm_model_t *m, uint32_t i)
{
    return i == 0 ? &m->input : &m->more_inputs[i - 1];
}
static inline const tm_io_t *tm_output(const tm_model_t *m, uint32_t i)
{
    return i == 0 ? &m->output : &m->more_outputs[i - 1];
}

#endif
