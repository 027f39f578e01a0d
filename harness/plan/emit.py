"""Emit the model image: one C file with the constants, the op table and the arena (model_data.c)."""
from __future__ import annotations

import numpy as np

from harness.mlperf import dut_io
from harness.plan.kernel import Arena, Const
from harness.plan.lower import SCRATCH, Lowered

_DTYPE = {np.dtype(np.int8): "TM_INT8", np.dtype(np.int16): "TM_INT16", np.dtype(np.float32): "TM_FLOAT32",
          np.dtype(np.int32): "TM_INT32", np.dtype(np.uint8): "TM_UINT8"}


def _array(ctype: str, name: str, data: np.ndarray, in_ram: bool = False) -> str:
    """A constant array; `in_ram`: not const, so the startup code copies it from the flash to .data in
    SRAM (the same bytes, read from SRAM at run time)."""
    flat = np.ascontiguousarray(data).reshape(-1)
    # float32 constants as C hex-float literals: exact, sign of zero kept (lowerings refuse inf/NaN)
    text = (lambda v: f"{float(v).hex()}f") if flat.dtype == np.float32 else (lambda v: str(int(v)))
    rows = [", ".join(text(v) for v in flat[i:i + 32]) for i in range(0, flat.size, 32)]
    body = ",\n    ".join(rows)
    qualifier = "" if in_ram else "const "
    return f"static {qualifier}{ctype} {name}[{flat.size}] __attribute__((aligned(4))) = {{\n    {body}\n}};\n"


def can_download_in_place(low: Lowered, model_id: str) -> bool:
    """Whether the `db` download can land in the input tensor itself: one input, a download of its size
    (its own bytes, or uint8 pixels converted in place to int8), and no result that needs the download
    after the inference (ad01's reconstruction error)."""
    ins = low.input_tensors
    dut = dut_io(model_id, ins, low.output_tensors)
    return len(ins) == 1 and dut.wire_bytes == ins[0].nbytes and not dut.mse


def db_buffer_bytes(low: Lowered, model_id: str) -> int:
    """The download buffer beside the arena of an image that does not download in place."""
    dut = dut_io(model_id, low.input_tensors, low.output_tensors)
    return max(dut.wire_bytes, sum(t.nbytes for t in low.input_tensors))


def _io(low: Lowered, t: int) -> str:
    tensor = low.graph.tensor(t)
    scale = float(tensor.scales[0]) if tensor.scales.size else 0.0
    return (f"{{ .offset = {low.plan.offsets[t]}u, .bytes = {tensor.nbytes}u, .dtype = {_DTYPE[np.dtype(tensor.dtype)]}, "
            f".scale = {scale!r}f, .zero_point = {tensor.zero_point} }}")


def hot_functions(low: Lowered) -> list[str]:
    """The kernels the model's inference runs, hottest first: by the plan's MACs, a tie by the order they
    first run. The executor tm_invoke is not among them: it runs a few instructions per op, and staying in
    flash it keeps the direct BL from its caller that the per-op profile (harness/profile.py) finds the
    inference by; calls into the kernels go through the op table, so those may live anywhere."""
    macs: dict[str, int] = {}
    for call in low.calls:
        macs[call.kernel] = macs.get(call.kernel, 0) + call.macs
    order = list(macs)
    return sorted(order, key=lambda k: (-macs[k], order.index(k)))


def image_items(low: Lowered):
    """The model image's parts in the order emit_model_c writes them: ("array", name, ctype, data) for
    each constant array (a constant tensor shared by several ops, and equal computed tables, once) and
    ("op", i, call, fields) for each op's params struct, `fields` its C initialisers. The one walk over
    the plan that both the emitter and the size predictor (harness/costmodel.py) read."""
    shared: dict[int, str] = {}     # constant tensors used by several ops are emitted once
    # so are equal computed tables (requantization multipliers and shifts...): a patched plan runs each op
    # of its stage once per tile with the same ones
    same: dict[tuple, str] = {}
    for i, call in enumerate(low.calls):
        fields = []
        for key, value in call.fields.items():
            if value is None:
                text = "0"
            elif isinstance(value, Arena):
                text = f"{low.plan.offsets[value.tensor] + value.at}u"
            elif isinstance(value, Const):
                content = (value.ctype, np.asarray(value.data).dtype.str, np.asarray(value.data).tobytes())
                text = shared.get(value.tensor) if value.tensor is not None else same.get(content)
                if text is None:
                    text = f"t{value.tensor}" if value.tensor is not None else f"op{i}_{key}"
                    yield "array", text, value.ctype, value.data
                    if value.tensor is not None:
                        shared[value.tensor] = text
                    else:
                        same[content] = text
            elif isinstance(value, float):
                text = f"{value!r}f"
            else:
                text = str(int(value))
            fields.append(f".{key} = {text}")
        if call.scratch:
            fields.append(f".scratch_offset = {low.plan.offsets[SCRATCH - i]}u")
        yield "op", i, call, fields


def db_buffer(low: Lowered, model_id: str, infer_once: bool = False) -> int:
    """Bytes of tm_db_buffer, the download buffer; 0 when the download lands in the input tensor. A plan
    that keeps its input whole (patch-based plans: harness/plan/patch.py; layer by layer where that costs
    less SRAM than a buffer: harness/pipeline.py), or an image built `infer_once`, downloads straight into
    the input tensor when the download has the tensor's size (converted in place once it is complete);
    otherwise a buffer holds a benchmark download or the input tensors' own bytes (`db load N tensor`)."""
    in_place = (low.keep_input or infer_once) and can_download_in_place(low, model_id)
    return 0 if in_place else db_buffer_bytes(low, model_id)


def arena_array(low: Lowered) -> int:
    """Bytes of tm_arena as emitted (never an empty array)."""
    return max(low.plan.arena_bytes, 16)


def emit_model_c(low: Lowered, model_id: str, constants_in_ram: bool = False, infer_once: bool = False) -> str:
    """`constants_in_ram`: weights, biases and quantization tables live in SRAM (copied there at reset)
    instead of being read from the flash: the same inference with another memory path for its data
    (docs/cycle-model.md, "Memory system"). `infer_once`: download into the input tensor even though the
    plan lets later tensors reuse its bytes (no buffer beside the arena; one inference per download)."""
    headers = sorted({c.header for c in low.calls})
    out = [f"/* Model image for {low.graph.path.name}, generated by harness/plan: do not edit. */",
           '#include "tm_runtime.h"', *(f'#include "{h}"' for h in headers), ""]
    table = []
    for item in image_items(low):
        if item[0] == "array":
            _, name, ctype, data = item
            out.append(_array(ctype, name, data, constants_in_ram))
            continue
        _, i, call, fields = item
        out.append(f"static const {call.struct} op{i} = {{\n    " + ",\n    ".join(fields) + "\n};\n")
        table.append(f"{{ {call.kernel}, &op{i} }}")
    out.append("static const tm_op_t ops[] = {\n    " + ",\n    ".join(table) + "\n};\n")
    out.append(f"uint8_t tm_arena[{arena_array(low)}] __attribute__((aligned(16)));\n")
    ins = low.input_tensors
    dut = dut_io(model_id, ins, low.output_tensors)
    buffer = db_buffer(low, model_id, infer_once)
    in_place = buffer == 0
    if in_place:
        db = f"tm_arena + {low.plan.offsets[low.inputs[0]]}u"
    else:
        db = "tm_db_buffer"
        out.append(f"uint8_t tm_db_buffer[{buffer}] __attribute__((aligned(4)));\n")
    # The first input and output are `input` and `output`; the others, in the graph's order, are arrays of
    # their own, named only when there are any: a one-input one-output image is the same text as before.
    more = []
    for kind, tensors in (("inputs", low.inputs), ("outputs", low.outputs)):
        if len(tensors) > 1:
            out.append(f"static const tm_io_t more_{kind}[] = {{\n    "
                       + ",\n    ".join(_io(low, t) for t in tensors[1:]) + "\n};\n")
            more.append(f"    .n_more_{kind} = {len(tensors) - 1}u,\n    .more_{kind} = more_{kind},\n")
    out.append("const tm_model_t tm_model = {\n"
               f'    .name = "{dut.name}",\n'
               f"    .wire = {_DTYPE[dut.wire]},\n"
               f"    .wire_bytes = {dut.wire_bytes}u,\n"
               f"    .result = {'TM_RESULT_MSE' if dut.mse else 'TM_RESULT_VALUES'},\n"
               f"    .db = {db},\n"
               f"    .db_is_input = {int(in_place)},\n"
               + ("    .infer_once = 1,\n" if in_place and not low.keep_input else "") +
               f"    .arena_bytes = {low.plan.arena_bytes}u,\n"
               f"    .n_ops = {len(low.calls)}u,\n"
               "    .ops = ops,\n"
               f"    .input = {_io(low, low.inputs[0])},\n"
               f"    .output = {_io(low, low.outputs[0])},\n"
               + "".join(more) +
               "};\n")
    return "\n".join(out)
