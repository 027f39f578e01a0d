"""One lowering per TFLite builtin op: check the op against what our kernel supports, compute its
parameters offline. Each returns a KernelCall (harness/plan/kernel.py) or raises ModelError;
RESHAPE-like ops return a memory.Alias (no kernel). Ops the folding pass evaluated at plan time
(harness/plan/fold.py) never get here."""
from harness.plan.ops import fully_connected
from harness.plan.ops import hard_swish, leaky_relu, minmax, prelu
from harness.plan.ops import logistic, quantize, softmax, svdf
from harness.plan.ops import concatenation, elementwise, mean, pad, pooling, reshape
from harness.plan.ops import conv2d, depthwise_conv2d, window_copy
from harness.plan.ops import gather, log_softmax, reduce_max, resize, split, transpose
from harness.plan.ops import lstm, strided_slice

LOWERINGS = {
    "FULLY_CONNECTED": fully_connected.lower,
    "SOFTMAX": softmax.lower,
    "LOGISTIC": logistic.lower,
    "TANH": logistic.lower,
    "QUANTIZE": quantize.lower_quantize,
    "DEQUANTIZE": quantize.lower_dequantize,
    "SVDF": svdf.lower,
    "AVERAGE_POOL_2D": pooling.lower,
    "MAX_POOL_2D": pooling.lower,
    "ADD": elementwise.lower_add,
    "MUL": elementwise.lower_mul,
    "SUB": elementwise.lower_add,
    "MAXIMUM": minmax.lower,
    "MINIMUM": minmax.lower,
    "PRELU": prelu.lower,
    "LEAKY_RELU": leaky_relu.lower,
    "HARD_SWISH": hard_swish.lower,
    "PAD": pad.lower,
    "PADV2": pad.lower,
    "RESHAPE": reshape.lower,
    "SQUEEZE": reshape.lower,
    "EXPAND_DIMS": reshape.lower,
    "MEAN": mean.lower,
    "CONCATENATION": concatenation.lower,
    "CONV_2D": conv2d.lower,
    "DEPTHWISE_CONV_2D": depthwise_conv2d.lower,
    "TRANSPOSE": transpose.lower,
    "REDUCE_MAX": reduce_max.lower,
    "RESIZE_NEAREST_NEIGHBOR": resize.lower_nearest,
    "RESIZE_BILINEAR": resize.lower_bilinear,
    "GATHER": gather.lower,
    "LOG_SOFTMAX": log_softmax.lower,
    "SPLIT": split.lower,
    "SPLIT_V": split.lower,
    "UNIDIRECTIONAL_SEQUENCE_LSTM": lstm.lower,
    "STRIDED_SLICE": strided_slice.lower,   # computed input, one contiguous run: a view (constants fold)
    window_copy.NAME: window_copy.lower,     # patched graphs only (harness/plan/patch.py)
    window_copy.VIEW: window_copy.lower_view,   # patched graphs only: rows of a tile buffer, no kernel
}
