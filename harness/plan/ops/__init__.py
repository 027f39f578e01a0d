"""One lowering per TFLite builtin op: check the op against what our kernel supports, compute its
parameters offline. Each returns a KernelCall (harness/plan/kernel.py) or raises ModelError."""
from harness.plan.ops import fully_connected

LOWERINGS = {
    "FULLY_CONNECTED": fully_connected.lower,
}
