"""Cost model of a plan on a board, fitted on `harness characterize` samples, evaluated without a build.

What a firmware costs, split into what the plan fixes exactly and what was measured on the samples:
- SRAM = the board's static RAM outside the model image (measured: constant per board) + tm_arena (the
  planner's, exact) + tm_db_buffer (the download buffer, exact) + a stack bound: the stack high-water of
  an inference is the deepest kernel's, so each kernel's depth is bounded by the smallest high-water of
  the samples that ran it, and a plan's bound is the largest over its kernels;
- flash = the board's code and constants outside the runtime and the image (measured: constant per
  board) + the runtime functions the plan's kernels pull in (each function's size and which kernels need
  it, from the samples' DWARF, harness/codesize.py) + the model image: its constant arrays (exact, from
  the same walk the emitter makes, harness/plan/emit.image_items) and its params structs and op table
  (sizes per struct type read from the samples' symbol tables);
- cycles = per layer, by kernel, c0 + c1 x MACs + c2 x output elements + c3 x input elements (the loop
  counts a kernel's time is made of), least squares on relative residuals over every layer of every
  sample, plus the executor's own loop (a + b x ops); its error is the leave-one-sample-out error of
  whole inferences.
"""
from __future__ import annotations

import math

import numpy as np

from harness.plan.emit import arena_array, db_buffer, image_items
from harness.plan.lower import Lowered

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
                       "taps": int(c.macs) // max(out, 1), "ch": int(shape[-1]) if shape else 1})
    arrays = 0
    for item in image_items(low):
        if item[0] == "array":
            data = np.asarray(item[3])
            arrays += -(-data.nbytes // ALIGN) * ALIGN
    return {"macs": int(low.macs), "layers": layers, "kernels": sorted({c.kernel for c in low.calls}),
            "arrays": arrays, "arena": arena_array(low), "db": db_buffer(low, model_id),
            "n_ops": len(low.calls), "n_io": len(low.inputs) + len(low.outputs),
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
    depthwise kernel's 3x3 path (dw_mac3x3, firmware/kernels/dsp)."""
    three = layer["op"] == "DEPTHWISE_CONV_2D" and layer["taps"] == 9     # the depthwise 3x3 has a loop of its own
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
    return {"features": list(LAYER_FEATURES), "kernel": coef["kernel"], "op": coef["op"], "runtime": runtime}


def predict_cycles(fit: dict, features: dict) -> tuple[float, list[str]]:
    """(cycles of one inference, what lies outside the fit's samples)."""
    total, outside = fit["runtime"][0] + fit["runtime"][1] * len(features["layers"]), []
    for layer in features["layers"]:
        entry = fit["kernel"].get(_key(layer))
        if entry is None:
            entry = fit["op"].get(layer["op"])
            outside.append(f"kernel {layer['kernel']} never characterized" +
                           (f" (priced as {layer['op']})" if entry else " (no fit for its op type either)"))
            if entry is None:
                continue
        if layer["macs"] > entry["max_macs"] * 1.5 or layer["out"] > entry["max_out"] * 1.5:
            outside.append(f"a {layer['kernel']} layer larger than any characterized")
        total += float(np.dot(_layer_row(layer), entry["coef"]))
    return max(total, 0.0), sorted(set(outside))


def loo_cycles(samples: list[dict]) -> list[float | None]:
    """Relative error of each sample's cycles predicted by a fit without that sample (None: it has a
    kernel no other sample ran)."""
    out = []
    for i, s in enumerate(samples):
        rest = samples[:i] + samples[i + 1:]
        if len(rest) < 2:
            out.append(None)
            continue
        fit = fit_layers(rest)
        if any(_key(layer) not in fit["kernel"] for layer in s["layers"]):
            out.append(None)
            continue
        cycles, _ = predict_cycles(fit, s)
        out.append((cycles - s["cycles"]) / s["cycles"])
    return out


def fit_memory(samples: list[dict]) -> dict:
    """The board's parts of flash and SRAM outside the plan's, and what each kernel adds (module docstring)."""
    fns: dict[str, int] = {}
    for s in samples:
        fns.update(s["functions"])
    everywhere = set.intersection(*(set(s["functions"]) for s in samples))
    needs = {}
    for k in {k for s in samples for k in s["kernels"]}:
        have = [set(s["functions"]) for s in samples if k in s["kernels"]]
        needs[k] = sorted(set.intersection(*have) - everywhere)
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
           "stack_max": max(s["stack"] for s in samples), "stack_min": min(s["stack"] for s in samples)}
    flash_rest = [s["flash"] - _code(fit, s["kernels"])[0] - _image(fit, s)[0] for s in samples]
    ram_rest = [s["static_ram"] - _ram_image(s) for s in samples]
    fit["flash_base"], fit["flash_base_spread"] = _centre(flash_rest)
    fit["ram_base"], fit["ram_base_spread"] = _centre(ram_rest)
    fit["stack_resid"] = max(abs(predict_stack(stack, s) - s["stack"]) for s in samples)
    return fit


def _centre(values: list[int]) -> tuple[int, int]:
    """The midpoint of the values and half their range (the error of taking them as one constant)."""
    lo, hi = min(values), max(values)
    return (lo + hi) // 2, (hi - lo + 1) // 2


def _code(fit: dict, kernels: list[str]) -> tuple[int, list[str]]:
    names = set(fit["base_functions"])
    outside = [k for k in kernels if k not in fit["needs"]]
    for k in kernels:
        names.update(fit["needs"].get(k, ()))
    return sum(fit["functions"][n] for n in names), [f"kernel {k}'s code never characterized" for k in outside]


def _image(fit: dict, features: dict) -> tuple[int, list[str]]:
    outside = sorted({layer["struct"] for layer in features["layers"] if layer["struct"] not in fit["structs"]})
    # an unknown params struct: a word per field is its usual size; the error widens by what it adds
    structs = sum(fit["structs"].get(layer["struct"], 64) for layer in features["layers"])
    size = features["arrays"] + structs + fit["op_entry"] * features["n_ops"] + fit["model_record"]
    return size, [f"params struct {s} never characterized" for s in outside]


def _ram_image(features: dict) -> int:
    return -(-features["arena"] // 16) * 16 + -(-features["db"] // ALIGN) * ALIGN


def predict_memory(fit: dict, features: dict) -> dict:
    """Flash and SRAM bytes with their error bounds (bytes) and what lies outside the samples."""
    code, out_code = _code(fit, features["kernels"])
    image, out_image = _image(fit, features)
    unknown = sorted({_key(layer) for layer in features["layers"] if _key(layer) not in fit["stack"]})
    stack = predict_stack(fit["stack"], features)
    if unknown:
        stack = max(stack, fit["stack_max"])
    flash_err = fit["flash_base_spread"] + 64 * len(out_image) + (2048 * len(out_code))
    # the stack is a bound: a layer's depth is the shallowest sample's that ran its shape (or a wider one),
    # which another, deeper layer of that sample may have set; the truth lies between the shallowest
    # high-water any sample had and the bound (wider still for a shape no sample ran: a line)
    slack = stack - fit["stack_min"] if stack_exact(fit["stack"], features) else fit["stack_max"]
    ram_err = fit["ram_base_spread"] + fit["stack_resid"] + max(slack, 0)
    return {"flash": int(fit["flash_base"] + code + image), "flash_err": int(flash_err),
            "sram": int(fit["ram_base"] + _ram_image(features) + stack), "sram_err": int(ram_err),
            "stack_bound": int(stack), "arena": features["arena"],
            "outside": out_code + out_image + [f"kernel {k}'s stack never measured" for k in unknown]}


def _signature(layer: dict) -> list[int]:
    return [int(layer["taps"]), int(layer["ch"])]


def predict_stack(coef: dict, features: dict) -> int:
    """The stack high-water: the deepest layer's. A layer of a (kernel, op, taps, channels) the samples
    ran is as deep as the shallowest sample that ran it; another is priced by its key's line through
    those (the kernels' stack buffers scale with taps and channels)."""
    depths = []
    for layer in features["layers"]:
        entry = coef.get(_key(layer))
        if entry is None:
            continue
        taps, ch = _signature(layer)
        # a kernel's stack grows with taps and channels: the shallowest sample with a layer at least as
        # wide in both bounds this one; past every sample, the key's line
        above = [d for t, c, d in entry["table"] if t >= taps and c >= ch]
        depths.append(min(above) if above else float(np.dot([1.0, taps, ch], entry["line"])))
    return int(math.ceil(max(depths))) if depths else 0


def stack_exact(coef: dict, features: dict) -> bool:
    """Every layer's (taps, channels) was run by a sample: the bound is the samples' own."""
    return all(_key(la) in coef and _signature(la) + [0] in [[t, c, 0] for t, c, _ in coef[_key(la)]["table"]]
               for la in features["layers"])


def fit_stack(samples: list[dict]) -> dict:
    """Per key (kernel and op), the smallest high-water of the samples that ran a layer of each (taps,
    channels) -- a sample's high-water is at least its deepest layer's, so that is the tightest bound
    the samples give -- and a least-squares line through them for shapes no sample ran."""
    table: dict[str, dict[tuple[int, int], int]] = {}
    for s in samples:
        for layer in s["layers"]:
            t = table.setdefault(_key(layer), {})
            sig = tuple(_signature(layer))
            t[sig] = min(t.get(sig, s["stack"]), s["stack"])
    out = {}
    for k, t in table.items():
        X = np.array([[1.0, *sig] for sig in t])
        y = np.array(list(t.values()), dtype=float)
        out[k] = {"table": [[*sig, d] for sig, d in sorted(t.items())],
                  "line": [float(b) for b in np.linalg.lstsq(X, y, rcond=None)[0]]}
    return out


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
