"""What a lowering produces: one kernel call per op, its C params struct described field by field."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.plan.model import Op


@dataclass(frozen=True)
class Arena:
    """A params field holding the arena offset of a tensor (plus `at` bytes into it: a window's corner)."""
    tensor: int
    at: int = 0


@dataclass(frozen=True)
class Const:
    """A params field pointing at constant data; `tensor` lets ops sharing a constant share one array."""
    ctype: str
    data: np.ndarray
    tensor: int | None = None


@dataclass
class KernelCall:
    kernel: str                    # C kernel function, e.g. tm_fully_connected_s8
    header: str                    # its header in firmware/kernels, declaring the params struct
    struct: str                    # C params struct type
    op: Op
    fields: dict                   # C struct field -> int | float | Arena | Const | None (a NULL pointer)
    macs: int = 0
    scratch: int = 0               # arena bytes the kernel needs while it runs (field `scratch_offset`)
