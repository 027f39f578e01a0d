"""The real-board code path without a board: an emulated board behind a pseudo-terminal
(harness/backends/pty.py) opened by pyserial (harness/backends/serial.py), driven by the same protocol
client as everything else. Port open, protocol, parsing, timeouts, damaged lines, the `hardware`
backend with a lab inventory, and the hardware test module itself."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import lab as labmod
from harness.backends import BoardTimeout, PortError, open_board
from harness.backends.pty import EmulatedPty
from harness.backends.serial import SerialBoard
from harness.board import load_board
from harness.check import check_cell
from harness.protocol import DutClient, ProtocolError
from harness.pytest_plugin import ZooCell, cycles_of
from harness.reference import TflmReference, random_inputs

pytestmark = pytest.mark.emulated

ROOT = Path(__file__).resolve().parent.parent
LAB = Path(__file__).resolve().parent / "lab_emulated.toml"


@pytest.fixture(scope="module")
def model(small_model):
    return small_model


@pytest.fixture
def firmware(harness_session, model):
    def get(board: str):
        return harness_session.firmware(ZooCell(model[0], board, path=str(model[1])))
    return get


@pytest.fixture
def console(firmware):
    """(bridge, SerialBoard, DutClient, graph, lowered) on the F446RE, booted and at m-ready."""
    fw, graph, low = firmware("nucleo_f446re")
    with EmulatedPty(load_board("nucleo_f446re")) as bridge:
        sb = SerialBoard(bridge.port, 115200, timeout=5)
        bridge.load(fw.elf)                  # flash after the port is open, as on a real board
        client = DutClient(sb)
        assert client.wait_ready()[-1] == "m-ready"
        yield bridge, sb, client, graph, low
        sb.close()


def test_protocol_through_a_pty_on_every_board(firmware, model, board_name):
    fw, graph, low = firmware(board_name)
    board = load_board(board_name)
    with EmulatedPty(board) as bridge, SerialBoard(bridge.port, board.console.baud, timeout=5) as sb:
        bridge.load(fw.elf)
        client = DutClient(sb)
        boot = client.wait_ready()
        assert boot[0] == "m-timestamp-mode-performance" and boot[-2:] == ["m-init-done", "m-ready"]
        assert client.name() == f"tinyml-harness {board.title}"
        assert client.profile() == model[0]
        reference = TflmReference(graph.path)
        for x in random_inputs(low.input_tensors, 2, 0):
            client.load_inputs(x)
            assert client.infer(1, 0).outputs == reference.run(x)
        stats = client.stats()
    assert stats["cycles"] > 0 and stats["stack"] > 0
    assert all(line.endswith(b"\r\n") for line in bridge.sent)      # the UART's line endings on the wire


def test_same_cycles_as_the_emulated_backend(firmware, model):
    """The serial path adds nothing the firmware could see: same output and same DWT cycles."""
    fw, graph, low = firmware("nucleo_f746zg")
    board = load_board("nucleo_f746zg")
    x = next(iter(random_inputs(low.input_tensors, 1, 3)))
    results = []
    direct = open_board("emulated", board, fw.elf)
    with EmulatedPty(board) as bridge, SerialBoard(bridge.port, timeout=5) as sb:
        bridge.load(fw.elf)
        for transport in (direct, sb):
            client = DutClient(transport)
            client.wait_ready()
            client.load_inputs(x)
            results.append((client.infer(1, 0).outputs, client.stats()["cycles"]))
    assert results[0] == results[1]


def test_a_garbled_answer_is_asked_again(console):
    bridge, sb, client, graph, low = console
    x = next(iter(random_inputs(low.input_tensors, 1, 1)))
    want = TflmReference(graph.path).run(x)
    client.load_inputs(x)
    bridge.garble_next(containing="m-results-raw")
    assert client.infer(1, 0).outputs == want
    assert len(client.garbled) == 1 and b"\xfe\x00\xff" in client.garbled[0]
    assert sb.garbled == client.garbled


def test_a_garbled_download_is_repeated_whole(console):
    bridge, sb, client, graph, low = console
    x = next(iter(random_inputs(low.input_tensors, 1, 2)))
    bridge.garble_next(containing="m-load-done")       # `db <hex>` appends: a chunk alone cannot be resent
    client.load_inputs(x)
    assert len(client.garbled) == 1
    assert client.infer(1, 0).outputs == TflmReference(graph.path).run(x)


def test_garbled_twice_is_a_clear_error(console):
    bridge, sb, client, graph, low = console
    bridge.garble_next(2, containing="m-name-dut")
    with pytest.raises(ProtocolError, match=r"`name`: the answer arrived garbled 2 time\(s\)"):
        client.name()
    assert client.name().startswith("tinyml-harness")     # the line is usable again afterwards


def test_garbled_boot_noise_is_skipped(firmware):
    fw, _, _ = firmware("nucleo_f446re")
    with EmulatedPty(load_board("nucleo_f446re")) as bridge, SerialBoard(bridge.port, timeout=5) as sb:
        bridge.garble_next(containing="m-timestamp-mode")
        bridge.load(fw.elf)
        client = DutClient(sb)
        assert client.wait_ready()[-1] == "m-ready"
        assert len(client.garbled) == 1


def test_a_lost_line_times_out_with_the_port_and_the_tail(console):
    bridge, sb, client, graph, low = console
    sb.timeout = 0.5
    bridge.drop_next(containing="m-ready")
    start = time.monotonic()
    with pytest.raises(BoardTimeout) as caught:
        client.name()
    assert 0.4 < time.monotonic() - start < 3
    text = str(caught.value)
    assert text.startswith("TIMEOUT no complete line from") and "within 0.5 s" in text
    assert sb.port_name in text and "m-name-dut-[tinyml-harness NUCLEO-F446RE]" in text
    assert caught.value.report["kind"] == "timeout"


def test_reset_boots_again(console):
    bridge, sb, client, graph, low = console
    sb._reset = bridge.reset
    sb.reset()
    assert client.wait_ready()[-2:] == ["m-init-done", "m-ready"]


def test_an_absent_port_is_named():
    with pytest.raises(PortError, match=r"serial port /dev/ttyHARNESS404 is absent"):
        SerialBoard("/dev/ttyHARNESS404")


def test_a_busy_port_is_named():
    with EmulatedPty(load_board("nucleo_f446re")) as bridge, SerialBoard(bridge.port):
        with pytest.raises(PortError, match="is busy: another program holds it"):
            SerialBoard(bridge.port)


def test_hardware_backend_through_an_emulated_lab(model, monkeypatch):
    """check_cell(backend="hardware"): lab inventory, flasher, pty, pyserial, protocol, verdict."""
    monkeypatch.setattr(labmod, "_override_path", LAB)
    mid, path = model
    board = load_board("nucleo_f767zi")
    hw = check_cell(mid, path, board, inputs=3, backend="hardware")
    emu = check_cell(mid, path, board, inputs=3, backend="emulated")
    assert hw.status == "pass", hw.reasons
    assert hw.mismatches == 0 and cycles_of(hw) == cycles_of(emu) > 0
    assert hw.fit.stack == emu.fit.stack


def test_no_port_for_an_absent_board(model, tmp_path):
    empty = tmp_path / "lab.toml"
    empty.write_text("")
    with pytest.raises(PortError, match="no port for nucleo_f446re"):
        open_board("hardware", load_board("nucleo_f446re"), model[1], lab=empty)


def test_the_hardware_tests_pass_on_an_emulated_lab(model, tmp_path):
    """tests/test_hardware.py as a lab runner runs it, against emulated boards behind ptys."""
    env = {**os.environ, "HARNESS_REPORTS": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/test_hardware.py", "-m", "hardware",
                           "--lab", str(LAB), "--model", str(model[1]), "-p", "no:cacheprovider", "-q",
                           "-o", "addopts=--strict-markers", f"--junitxml={tmp_path / 'hw.xml'}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "3 passed" in proc.stdout.splitlines()[-1], proc.stdout[-2000:]
    reports = sorted(p.name for p in (tmp_path / "hardware").glob("*.json"))
    assert len(reports) == 3
    xml = (tmp_path / "hw.xml").read_text()
    assert 'name="lap_us_per_inference"' in xml and 'name="wall_us_per_inference"' in xml
