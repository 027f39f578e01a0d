"""Test helper: a converted model run on the emulated Cortex-M4 (NUCLEO-F446RE) and Cortex-M7
(NUCLEO-F746ZG) against the TFLM interpreter, input by input. The sweeps run a few cases per op on each
board by default and every case with HARNESS_SWEEP=large (the host build covers every case always)."""
from __future__ import annotations

from pathlib import Path

import pytest

BOARDS = ["nucleo_f446re", "nucleo_f746zg"]


def board_mismatches(path: Path, board: str, name: str, inputs: int = 3, seed: int = 0,
                     xs: list | None = None) -> tuple[int, int]:
    """Over `inputs` seeded random inputs (or the model inputs `xs`, each one array per input tensor, for
    an input whose values must be valid,
    e.g. GATHER positions): (inputs whose output bytes differ from TFLM's, inputs outside
    harness.reference.outputs_agree's rule): the first is 0 for a bit-exact kernel; the second is the
    check's own verdict (a float tolerance for the board's C library). The plan and the firmware come from
    harness.pipeline, as for `harness check`. A model whose image does not fit the board is skipped."""
    from harness.backends.emulated import EmulatedBoard
    from harness.board import load_board
    from harness.build import DoesNotFit
    from harness.pipeline import build, plan
    from harness.protocol import DutClient
    from harness.reference import TflmReference, each_output_agrees, random_inputs
    _, low = plan(path)
    ref = TflmReference(path)
    b = load_board(board)
    try:
        fw = build(b, low, name)
    except DoesNotFit as e:      # a large sweep's big Dense branch on the smaller board: not a kernel result
        pytest.skip(f"{path.name} does not fit {board}: {str(e).splitlines()[-1]}")
    client = DutClient(EmulatedBoard(b, fw.elf))
    client.wait_ready()
    differ = disagree = 0
    for x in xs if xs is not None else random_inputs(low.input_tensors, inputs, seed):
        client.load_inputs(x)
        ours, theirs = client.infer(1, 0).outputs, ref.run(x)       # every output, in the graph's order
        differ += ours != theirs
        disagree += not all(agree for agree, _ in each_output_agrees(ours, theirs, low.output_tensors))
    return differ, disagree
