"""The calibrated cycle-to-latency table per board (issue 7): the emulator's cycles -> milliseconds and
millijoules with error bars. `table_for(board).predict(cycles, instructions, ops, events)` is the API."""
from harness.calibration.table import CalibrationTable, Prediction, table_for

__all__ = ["CalibrationTable", "Prediction", "table_for"]
