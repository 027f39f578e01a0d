"""Record the console session a FakeBoard replays (tests/test_fake_board.py): our firmware for MODEL on
BOARD, on the emulated board, through harness.check.judge_session, as `harness check` runs it.

    python tests/sessions/record.py [MODEL] [BOARD] [INPUTS]    (default gen_kws_dscnn_xs nucleo_f446re 2)

Writes tests/sessions/MODEL-BOARD.json. Record again when the DUT protocol or the commands the host
sends change (the replay then says which command differs)."""
from __future__ import annotations

import datetime
import hashlib
import sys
from pathlib import Path

from harness import pipeline, registry
from harness.backends.emulated import EmulatedBoard
from harness.backends.fake import Recording
from harness.board import load_board
from harness.check import Verdict, judge_session


def record(model: str, board_name: str, inputs: int) -> Path:
    mid, path = registry.resolve(model)
    graph, low = pipeline.plan(path, mid)
    board = load_board(board_name)
    fw = pipeline.build(board, low, mid)
    dut = Recording(EmulatedBoard(board, fw.elf))
    v = Verdict(mid, board.name, inputs=inputs)
    judge_session(v, dut, graph, low, board, inputs, 0, None)
    out = Path(__file__).parent / f"{mid}-{board.name}.json"
    dut.save(out, model=mid, board=board.name, inputs=inputs, seed=0, status=v.status, cycles=v.cycles,
             firmware_sha256=hashlib.sha256(fw.elf.read_bytes()).hexdigest(),
             recorded=datetime.date.today().isoformat(), command=" ".join(["python", *sys.argv]))
    dut.close()
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    print(record(args[0] if args else "gen_kws_dscnn_xs", args[1] if len(args) > 1 else "nucleo_f446re",
                 int(args[2]) if len(args) > 2 else 2))
