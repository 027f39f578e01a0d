"""Our runtime and kernels compiled for the host: the same C as the firmware, run through ctypes, so
kernel bugs show up in milliseconds, apart from any board or emulator."""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from harness.build import CACHE, FIRMWARE
from harness.errors import HarnessError
from harness.pipeline import image
from harness.plan.lower import Lowered


# -ffp-contract=off: no fused multiply-add, so float kernels round as TFLM's do (the firmware's flags too).
FLAGS = ["-O1", "-fPIC", "-ffp-contract=off", f"-I{FIRMWARE / 'runtime'}", f"-I{FIRMWARE / 'kernels'}"]


def _compiler() -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise HarnessError("no host C compiler (cc) for the host build of the runtime")
    return cc


def _run_cc(args: list[str], out: Path) -> Path:
    """Compile to `out` through a per-process temporary name, so parallel runs building alike never see
    a half-written file."""
    tmp = Path(f"{out}.{os.getpid()}.tmp")
    proc = subprocess.run([_compiler(), *FLAGS, "-o", str(tmp), *args], capture_output=True, text=True)
    if proc.returncode:
        raise HarnessError(f"host build of the runtime failed:\n{proc.stderr}")
    tmp.replace(out)
    return out


def runtime_object() -> Path:
    """The runtime and every kernel compiled once into one relocatable object (cached by their sources):
    each model then compiles only its image and links, a tenth of the time of compiling it all again."""
    c_files = sorted((FIRMWARE / "runtime").glob("*.c")) + sorted((FIRMWARE / "kernels").rglob("*.c"))
    h = hashlib.sha256(" ".join(FLAGS).encode())
    for p in c_files + sorted(FIRMWARE.rglob("*.h")):
        h.update(p.read_bytes())
    obj = CACHE / "host" / f"runtime-{h.hexdigest()[:16]}.o"
    if not obj.is_file():
        obj.parent.mkdir(parents=True, exist_ok=True)
        _run_cc(["-r", *map(str, c_files)], obj)
    return obj


class HostModel:
    def __init__(self, low: Lowered, model_id: str = "host"):
        src = image(low, model_id)["model_data.c"]      # the model image the firmware links
        runtime = runtime_object()
        out = CACHE / "host" / hashlib.sha256(src.encode() + runtime.name.encode()).hexdigest()[:16]
        lib = out / "model.so"    # one path per model: dlopen would hand back an already-loaded library
        if not lib.is_file():
            out.mkdir(parents=True, exist_ok=True)
            (out / "model_data.c").write_text(src)
            _run_cc(["-shared", str(out / "model_data.c"), str(runtime)], lib)
        self._lib = ctypes.CDLL(str(lib))
        self._lib.tm_invoke.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._model = ctypes.addressof(ctypes.c_char.in_dll(self._lib, "tm_model"))
        self._arena = ctypes.addressof(ctypes.c_char.in_dll(self._lib, "tm_arena"))
        # A fresh boot: the arena starts zeroed (.bss on the board), so variable tensors (SVDF state) start
        # from their initial value, even when dlopen hands back a library an earlier HostModel used.
        ctypes.memset(self._arena, 0, max(low.plan.arena_bytes, 16))
        self.low = low

    def run(self, xs) -> list[bytes]:
        """One inference on a model input (one array per input tensor, in the graph's order, as
        harness.reference.random_inputs gives): every output tensor's bytes, in the graph's order."""
        low = self.low
        if len(xs) != len(low.inputs):
            raise HarnessError(f"{len(xs)} input array(s) given, the model takes {len(low.inputs)}")
        for x, t in zip(xs, low.inputs):
            data = x.tobytes()
            if len(data) != low.graph.tensor(t).nbytes:
                raise HarnessError(f"input has {len(data)} bytes, the model's tensor {t} takes "
                                   f"{low.graph.tensor(t).nbytes}")
            ctypes.memmove(self._arena + low.plan.offsets[t], data, len(data))
        status = self._lib.tm_invoke(self._model, self._arena)
        if status:
            raise HarnessError(f"tm_invoke returned {status}")
        return [ctypes.string_at(self._arena + low.plan.offsets[t], low.graph.tensor(t).nbytes)
                for t in low.outputs]
