"""TinyML board harness: does an int8 model fit, compute what TFLM computes, and how fast, per board."""
