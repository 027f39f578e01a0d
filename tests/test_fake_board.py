"""The verdict logic of `harness check` on a FakeBoard (harness/backends/fake.py): a console session our
firmware gave on the emulated F446RE (tests/sessions/, recorded by tests/sessions/record.py) replayed in
milliseconds, no firmware, no emulator. The outputs are judged against TFLM's (the tflite-micro wheel),
so a recording whose output bytes are changed must fail, and a host that asks anything else is stopped
at the first command that differs."""
import json
from pathlib import Path

import pytest

from harness import pipeline, registry
from harness.backends import BoardError
from harness.backends.fake import FakeBoard
from harness.board import load_board
from harness.check import Verdict, judge_session

SESSION = Path(__file__).parent / "sessions" / "gen_kws_dscnn_xs-nucleo_f446re.json"


@pytest.fixture(scope="module")
def recorded():
    doc = json.loads(SESSION.read_text())
    mid, path = registry.resolve(doc["model"])
    graph, low = pipeline.plan(path, mid)
    return doc, graph, low, load_board(doc["board"])


def _judge(doc, graph, low, board, transcript, seed=0):
    v = Verdict(doc["model"], board.name, inputs=doc["inputs"])
    stack = judge_session(v, FakeBoard(transcript), graph, low, board, doc["inputs"], seed, None)
    return v, stack


def test_the_recorded_session_passes(recorded):
    doc, graph, low, board = recorded
    v, stack = _judge(doc, graph, low, board, doc["transcript"])
    assert (v.status, v.mismatches, v.output_mismatches) == ("pass", 0, [0])
    stats = next(t for who, t in doc["transcript"] if t.startswith("m-stats-["))
    assert v.cycles == doc["cycles"] and f"cycles={v.cycles}" in stats and f"stack={stack}" in stats
    assert v.latency_ms > 0 and v.instructions is None      # a replay has no counters to look inside


def test_one_changed_output_byte_fails_the_cell(recorded):
    """The second inference's first output byte one higher: that input differs from TFLM, the other not."""
    doc, graph, low, board = recorded
    raws = [i for i, (who, t) in enumerate(doc["transcript"]) if t.startswith("m-results-raw-[")]
    assert len(raws) == doc["inputs"] == 2
    changed = [list(e) for e in doc["transcript"]]
    text = changed[raws[1]][1]
    first = int(text[len("m-results-raw-["):][:2], 16)
    changed[raws[1]][1] = f"m-results-raw-[{(first + 1) % 256:02x}" + text[len("m-results-raw-[") + 2:]
    v, _ = _judge(doc, graph, low, board, changed)
    assert v.status == "fail" and v.mismatches == 1
    assert v.reasons == ["1 of 2 outputs differ from TFLM"]


def test_a_host_that_sends_other_inputs_is_stopped_at_the_first_difference(recorded):
    doc, graph, low, board = recorded
    with pytest.raises(BoardError, match=r"replay: the host wrote 'db [0-9a-f]+' where the recording has 'db "):
        _judge(doc, graph, low, board, doc["transcript"], seed=1)


def test_a_board_that_says_nothing_more_is_idle():
    board = FakeBoard([["dut", "m-ready"], ["host", "name"]])
    assert board.read_line() == "m-ready"
    with pytest.raises(BoardError, match="waiting for the host"):
        board.read_line()
