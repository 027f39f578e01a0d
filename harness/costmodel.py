"""Cost model of a plan on a board, fitted on `harness characterize` samples, evaluated without a build.

What a firmware costs, split into what the plan fixes exactly and what was measured on the samples:
- SRAM = the board's static RAM outside the model image (measured: constant per board) + tm_arena (the
  planner's, exact) + tm_db_buffer (the download buffer, exact) + the stack high-water: the deepest
  layer's, a layer's being its kernel's frames (measured: the samples' tightest bound, fit_stack) + the
  variable-length array the plan gives the kernel (exact, harness/plan/optimize.stack_array_bytes);
- flash = the board's constants outside the image and the code's alignment (measured: constant per
  board) + the runtime's own functions + the closure of the functions the plan's kernels call (each
  function's size and callees from the samples' ELFs, harness/placement.call_graph) + the model image: its constant arrays (exact, from
  the same walk the emitter makes, harness/plan/emit.image_items) and its params structs and op table
  (sizes per struct type read from the samples' symbol tables);
- cycles = per layer, by kernel, c0 + c1 x MACs + c2 x output elements + c3 x input elements (the loop
  counts a kernel's time is made of), least squares on relative residuals over every layer of every
  sample, plus the executor's own loop (a + b x ops); its error is the leave-one-sample-out error of
  whole inferences;
- memory events (flash line fetches, cache misses, their stalls: what a board's calibration table maps
  besides the cycles) the same way, per layer by kernel and the executor's; the latency's error is the
  leave-one-sample-out error of whole inferences in milliseconds, cycles and events through the table.
"""
from __future__ import annotations

import math

import numpy as np

from harness.mlperf import dut_io
from harness.plan.emit import arena_array, db_buffer, image_items
from harness.plan.lower import Lowered
from harness.plan.optimize import DW_WINDOW_MAX_CH, stack_array_bytes

NEVER = "never characterized"     # how an `outside` entry names a kernel, its code or a struct no sample had
ALIGN = 4          # every constant array of the image is aligned(4) (harness/plan/emit._array)
LAYER_FEATURES = ("const", "macs", "out", "in", "pixels", "pixels x taps")


def _elems(t) -> int:
    return int(np.prod(t.shape, dtype=np.int64)) if t.shape else 1


def plan_features(low: Lowered, model_id: str) -> dict:
    """What the cost model reads of a plan: per layer its kernel and loop counts, and the image's parts
    whose size the plan fixes."""
    g = low.graph
    layers = []
    for c in low.calls:
        ins = [g.tensor(t) for t in c.op.inputs if t >= 0 and not g.tensor(t).is_constant]
        out = sum(_elems(g.tensor(t)) for t in c.op.outputs)
        shape = g.tensor(c.op.outputs[0]).shape
        layers.append({"kernel": c.kernel, "op": c.op.name, "struct": c.struct, "macs": int(c.macs),
                       "in": sum(_elems(t) for t in ins), "out": out,
                       "taps": int(c.macs) // max(out, 1), "ch": int(shape[-1]) if shape else 1,
                       "stack_array": stack_array_bytes(c)})
    arrays = 0
    for item in image_items(low):
        if item[0] == "array":
            data = np.asarray(item[3])
            arrays += -(-data.nbytes // ALIGN) * ALIGN
    return {"macs": int(low.macs), "layers": layers, "kernels": sorted({c.kernel for c in low.calls}),
            "arrays": arrays, "arena": arena_array(low), "db": db_buffer(low, model_id),
            "n_ops": len(low.calls), "n_io": len(low.inputs) + len(low.outputs),
            # the name the firmware answers `name%` with, a string in .rodata (with its NUL)
            "name_bytes": len(dut_io(model_id, low.input_tensors, low.output_tensors).name) + 1,
            "activations": int(low.plan.lower_bound),
            "param_bytes": int(sum(t.nbytes for t in g.tensors if t.is_constant))}


# ------------------------------------------------------------------------------------------ fitting
def _solve_rel(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares of relative residuals (X beta - y) / y."""
    w = 1.0 / np.maximum(y, 1.0)
    beta, *_ = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)
    return beta


def _key(layer: dict) -> str:
    """A layer's cost is its kernel's for its op: FULLY_CONNECTED runs on the convolution's kernel
    (harness/plan/optimize.py) with another loop shape, so the two are fitted apart; so is the
    depthwise kernel's 3x3 path (dw_3x3, firmware/kernels/dsp), which it takes up to DW_WINDOW_MAX_CH
    channels (its frames and loops are its own)."""
    three = layer["op"] == "DEPTHWISE_CONV_2D" and layer["taps"] == 9 and layer["ch"] <= DW_WINDOW_MAX_CH
    return f"{layer['kernel']}:{layer['op']}" + (":3x3" if three else "")


def _layer_row(layer: dict) -> list[float]:
    """LAYER_FEATURES: a kernel's time is its loops': per MAC, per output element, per input element,
    per output pixel (out / channels: a row of the im2col or a window's set-up) and per tap gathered
    for each pixel (the im2col copy)."""
    pixels = layer["out"] / max(layer["ch"], 1)
    return [1.0, float(layer["macs"]), float(layer["out"]), float(layer["in"]), pixels, pixels * layer["taps"]]


def fit_layers(samples: list[dict]) -> dict:
    """Per kernel (and per op type, for a kernel no sample ran) the coefficients of LAYER_FEATURES, and
    the executor's own cycles a + b x ops, from the samples' profiled layers."""
    by: dict[tuple[str, str], list[tuple[list[float], float]]] = {}
    for s in samples:
        for layer in s["layers"]:
            for key in (("kernel", _key(layer)), ("op", layer["op"])):
                by.setdefault(key, []).append((_layer_row(layer), float(layer["cycles"])))
    coef = {"kernel": {}, "op": {}}
    for (kind, name), rows in by.items():
        X = np.array([r for r, _ in rows])
        y = np.array([c for _, c in rows])
        coef[kind][name] = {"coef": [float(b) for b in _solve_rel(X, y)], "layers": len(rows),
                            "max_macs": int(X[:, 1].max()), "max_out": int(X[:, 2].max())}
    X = np.array([[1.0, float(len(s["layers"]))] for s in samples])
    y = np.array([float(s["runtime_cycles"]) for s in samples])
    runtime = [float(b) for b in np.linalg.lstsq(X, y, rcond=None)[0]]
    return {"features": list(LAYER_FEATURES), "kernel": coef["kernel"], "op": coef["op"], "runtime": runtime,
            "events": fit_events(samples)}


def fit_events(samples: list[dict]) -> dict:
    """The memory system's events (flash line fetches, cache hits and misses, the stalls they cost) the way
    the cycles are fitted: per kernel key on LAYER_FEATURES, and the executor's a + b x ops. Plain least
    squares: an event count is often 0 (a kernel in ITCM fetches nothing from the flash), where a relative
    residual means nothing. A board whose calibration maps events (the F7s': fetch lines) needs them."""
    names = sorted({k for s in samples for k in s.get("events", {})})
    if not names or any("events" not in la for s in samples for la in s["layers"]):
        return {}
    rows: dict[str, list[tuple[list[float], list[float]]]] = {}
    for s in samples:
        for layer in s["layers"]:
            rows.setdefault(_key(layer), []).append((_layer_row(layer), [float(layer["events"].get(n, 0)) for n in names]))
    kernel = {}
    for key, rs in rows.items():
        X, Y = np.array([r for r, _ in rs]), np.array([e for _, e in rs])
        kernel[key] = np.linalg.lstsq(X, Y, rcond=None)[0].T.tolist()          # per event: LAYER_FEATURES coefs
    X = np.array([[1.0, float(len(s["layers"]))] for s in samples])
    Y = np.array([[float(s["runtime_events"].get(n, 0)) for n in names] for s in samples])
    return {"names": names, "kernel": kernel, "runtime": np.linalg.lstsq(X, Y, rcond=None)[0].T.tolist()}


def predict_events(fit: dict, features: dict) -> dict[str, int] | None:
    """The memory system's events of one inference (None: the fit has none, e.g. a board without a
    memory model, or a kernel no sample ran: its events cannot be guessed from another kernel's)."""
    ev = fit.get("events")
    if not ev or any(_key(la) not in ev["kernel"] for la in features["layers"]):
        return None
    out = []
    for i, _ in enumerate(ev["names"]):
        total = ev["runtime"][i][0] + ev["runtime"][i][1] * len(features["layers"])
        for layer in features["layers"]:
            total += float(np.dot(_layer_row(layer), ev["kernel"][_key(layer)][i]))
        out.append(max(int(round(total)), 0))
    return dict(zip(ev["names"], out))


def predict_cycles(fit: dict, features: dict) -> tuple[float, list[str]]:
    """(cycles of one inference, what lies outside the fit's samples)."""
    total, outside = fit["runtime"][0] + fit["runtime"][1] * len(features["layers"]), []
    for layer in features["layers"]:
        entry = fit["kernel"].get(_key(layer))
        if entry is None:
            entry = fit["op"].get(layer["op"])
            outside.append(f"kernel {layer['kernel']} {NEVER}" +
                           (f" (priced as {layer['op']})" if entry else " (no fit for its op type either)"))
            if entry is None:
                continue
        if layer["macs"] > entry["max_macs"] * 1.5 or layer["out"] > entry["max_out"] * 1.5:
            outside.append(f"a {layer['kernel']} layer larger than any characterized")
        total += float(np.dot(_layer_row(layer), entry["coef"]))
    return max(total, 0.0), sorted(set(outside))


def leave_one_out(samples: list[dict], table) -> tuple[list[float | None], list[float | None]]:
    """Each sample predicted by a fit without it: the relative error of its cycles, and of its latency (ms
    through the board's calibration `table`, from the predicted cycles and memory events). None where the
    sample has a kernel no other sample ran."""
    cycles_err, ms_err = [], []
    for i, s in enumerate(samples):
        rest = samples[:i] + samples[i + 1:]
        fit = fit_layers(rest) if len(rest) >= 2 else None
        if fit is None or any(_key(layer) not in fit["kernel"] for layer in s["layers"]):
            cycles_err.append(None)
            ms_err.append(None)
            continue
        cycles, _ = predict_cycles(fit, s)
        ms = table.predict(cycles, events=predict_events(fit, s)).latency_ms
        cycles_err.append((cycles - s["cycles"]) / s["cycles"])
        ms_err.append((ms - s["latency_ms"]) / s["latency_ms"])
    return cycles_err, ms_err


def fit_memory(samples: list[dict]) -> dict:
    """The board's parts of flash and SRAM outside the plan's, and what each kernel adds (module docstring)."""
    fns: dict[str, int] = {}
    for s in samples:
        fns.update(s["functions"])
    # a kernel pulls in its call graph's closure (the samples' ELFs, harness/placement.call_graph); the
    # rest of each sample's code is the runtime's own, which any model has (a function both use is
    # counted once)
    needs: dict[str, set[str]] = {}
    for s in samples:
        for k, names in s["closures"].items():
            needs.setdefault(k, set()).update(names)
    everywhere: set[str] = set()
    for s in samples:
        everywhere |= set(s["functions"]) - set().union(*(needs[k] for k in s["kernels"]))
    needs = {k: sorted(v) for k, v in needs.items()}
    structs: dict[str, int] = {}
    for s in samples:
        structs.update(s["structs"])
    # op params = the structs + an op table entry per op + the model record (tm_model): two unknowns
    X = np.array([[1.0, float(s["n_ops"])] for s in samples])
    y = np.array([float(s["op_params"] - sum(structs[layer["struct"]] for layer in s["layers"])) for s in samples])
    record, entry = (float(b) for b in np.linalg.lstsq(X, y, rcond=None)[0])
    stack = fit_stack(samples)
    fit = {"functions": fns, "base_functions": sorted(everywhere), "needs": needs, "structs": structs,
           "model_record": round(record), "op_entry": round(entry), "stack": stack,
           "stack_max": max(s["stack"] for s in samples),
           "n_io": max(s["n_io"] for s in samples)}
    flash_rest = [s["flash"] - _code(fit, s["kernels"])[0] - _image(fit, s)[0] for s in samples]
    ram_rest = [s["static_ram"] - _ram_image(s) for s in samples]
    fit["flash_base"], fit["flash_base_spread"] = _centre(flash_rest)
    fit["ram_base"], fit["ram_base_spread"] = _centre(ram_rest)
    fit["stack_resid"] = max(abs(predict_stack(stack, s)[0] - s["stack"]) for s in samples)
    return fit


def _centre(values: list[int]) -> tuple[int, int]:
    """The midpoint of the samples' values and their whole range: the error of taking them as one
    constant for a model outside the samples, whose value can lie beyond their range (half the range
    covered the samples only: zoo models fell 1-6 B outside)."""
    lo, hi = min(values), max(values)
    return (lo + hi) // 2, hi - lo + 1


def _code(fit: dict, kernels: list[str]) -> tuple[int, list[str]]:
    names = set(fit["base_functions"])
    outside = [k for k in kernels if k not in fit["needs"]]
    for k in kernels:
        names.update(fit["needs"].get(k, ()))
    return sum(fit["functions"][n] for n in names), [f"kernel {k}'s code {NEVER}" for k in outside]


def _image(fit: dict, features: dict) -> tuple[int, list[str]]:
    outside = sorted({layer["struct"] for layer in features["layers"] if layer["struct"] not in fit["structs"]})
    # an unknown params struct: a word per field is its usual size; the error widens by what it adds
    structs = sum(fit["structs"].get(layer["struct"], 64) for layer in features["layers"])
    size = features["arrays"] + structs + fit["op_entry"] * features["n_ops"] + fit["model_record"] \
        + features["name_bytes"]
    why = [f"params struct {s} {NEVER}" for s in outside]
    if features["n_io"] > fit.get("n_io", 2):        # the more_inputs / more_outputs records: not sized
        why.append(f"{features['n_io']} input and output tensors (the samples had {fit.get('n_io', 2)})")
    return size, why


def _ram_image(features: dict) -> int:
    return -(-features["arena"] // 16) * 16 + -(-features["db"] // ALIGN) * ALIGN


def predict_memory(fit: dict, features: dict) -> dict:
    """Flash and SRAM bytes with their error bounds (bytes) and what lies outside the samples."""
    code, out_code = _code(fit, features["kernels"])
    image, out_image = _image(fit, features)
    stack, unknown = predict_stack(fit["stack"], features)
    if unknown:
        stack = max(stack, fit["stack_max"])
    flash_err = fit["flash_base_spread"] + 64 * len(out_image) + 2048 * len(out_code)
    # the stack: exact where each of the model's kernels was the deepest of some sample (its frame then
    # measured, not bounded); `stack_resid` is how far the rule missed on the samples themselves
    ram_err = fit["ram_base_spread"] + fit["stack_resid"] + (fit["stack_max"] if unknown else 0)
    return {"flash": int(fit["flash_base"] + code + image), "flash_err": int(flash_err),
            "sram": int(fit["ram_base"] + _ram_image(features) + stack), "sram_err": int(ram_err),
            "stack": int(stack), "arena": features["arena"],
            "outside": out_code + out_image + [f"kernel {k}'s stack never measured" for k in unknown]}


def _array(layer: dict) -> int:
    """The layer's variable-length stack array as the stack pointer moves for it (8-byte aligned, AAPCS)."""
    return -(-int(layer["stack_array"]) // 8) * 8


def fit_stack(samples: list[dict]) -> dict:
    """A layer's stack depth is its kernel's frames (a constant per kernel key) + its variable-length
    array (the plan's, harness/plan/optimize.stack_array_bytes), and an inference's high-water is the
    deepest layer's or the runtime's own (boot, download, printing). Each sample bounds every frame it
    ran: frame <= its high-water - the layer's array, equal for its deepest layer; the tightest bound over
    the samples is the frame. The runtime's own depth is bounded by the shallowest high-water."""
    frames: dict[str, int] = {}
    for s in samples:
        for layer in s["layers"]:
            k = _key(layer)
            frames[k] = min(frames.get(k, s["stack"]), s["stack"] - _array(layer))
    return {"frames": frames, "runtime": min(s["stack"] for s in samples)}


def predict_stack(fit: dict, features: dict) -> tuple[int, list[str]]:
    """(the stack high-water of an inference, the kernel keys no sample ran)."""
    depths = [fit["runtime"]]
    unknown = []
    for layer in features["layers"]:
        frame = fit["frames"].get(_key(layer))
        if frame is None:
            unknown.append(_key(layer))
        else:
            depths.append(frame + _array(layer))
    return max(depths), sorted(set(unknown))


# ---------------------------------------------------------------------------- the paper's line
def linear_fit(x: list[float], y: list[float]) -> dict:
    """y = intercept + slope x by ordinary least squares, with R^2, the absolute errors of the fit and
    of each point predicted by the line fitted without it (leave-one-out)."""
    X, Y = np.array(x, dtype=float), np.array(y, dtype=float)
    n = len(X)
    if n < 3:
        return {"n": n, "why": "a line needs 3 samples or more to be judged"}
    A = np.column_stack([np.ones(n), X])
    (a, b), *_ = np.linalg.lstsq(A, Y, rcond=None)
    res = Y - (a + b * X)
    ss_tot = float(np.sum((Y - Y.mean()) ** 2))
    loo = []
    for i in range(n):
        keep = np.arange(n) != i
        (ai, bi), *_ = np.linalg.lstsq(A[keep], Y[keep], rcond=None)
        loo.append(abs(Y[i] - (ai + bi * X[i])))
    rel = np.abs(res) / np.abs(Y)
    return {"n": n, "intercept": float(a), "slope": float(b),
            "r2": 1.0 - float(np.sum(res ** 2)) / ss_tot if ss_tot > 0 else math.nan,
            "max_abs_err": float(np.max(np.abs(res))), "mean_abs_err": float(np.mean(np.abs(res))),
            "mean_rel_err": float(np.mean(rel)), "max_rel_err": float(np.max(rel)),
            "loo_max_abs_err": float(max(loo)), "loo_mean_abs_err": float(np.mean(loo))}
