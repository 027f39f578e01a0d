"""TinyML board harness: does an int8 model fit, compute what TFLM computes, and how fast, per board."""


def predict(model, board: str, model_id: str | None = None):
    """Flash, SRAM and latency of `model` (a .tflite path, its bytes or a Keras model) on `board`, without
    building firmware or running the emulator (harness/predictor.py)."""
    from harness.predictor import predict as _predict
    return _predict(model, board, model_id)
