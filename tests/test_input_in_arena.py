"""The `db` download in the input tensor's place in the arena, layer by layer (issue 18): the image keeps a
download buffer beside the arena only where that takes less SRAM than keeping the input whole in it, and
an image that fits only without any harness bytes downloads into the input tensor the plan lets later
tensors reuse, one inference per download: its SRAM is a deployment's. Sizes come from the linked ELF's
symbols (the linker's facts), outputs from TFLM."""
import pytest

from harness import pipeline, registry
from harness.backends.emulated import EmulatedBoard
from harness.board import load_board
from harness.check import check_cell
from harness.elf import read_elf
from harness.protocol import DutClient, ProtocolError
from harness.reference import random_inputs
from harness.report import summary_markdown

pytestmark = pytest.mark.emulated

KEPT = "gen_vww_uint8_xs"         # 32x32x3 uint8 input: keeping it whole costs 2048 B of arena, less than 3072 B
ONCE = "gen_vww_two_outputs_xs"   # 32x32x1: keeping it costs its 1024 B, as a buffer does: the buffer stays


def _objects(elf) -> dict[str, int]:
    return {s.name: s.size for s in read_elf(elf).symbols if s.kind == "STT_OBJECT"}


def _plan(model_id):
    mid, path = registry.resolve(model_id)
    return mid, path, pipeline.plan(path, mid)[1]


@pytest.fixture(scope="module")
def small_f446(tmp_path_factory):
    """The F446RE's .repl with 5 KB of SRAM in one bank: ONCE's image with its 1024 B download buffer
    (3072 B arena, 4224 B static RAM) leaves under the linker's 1 KB for the stack; downloading into the
    input tensor the plan reuses leaves 1.9 KB, above the 1.4 KB its stack needs on the full board."""
    text = load_board("nucleo_f446re").path.read_text()
    small = text.replace("sram1: Memory.MappedMemory @ sysbus 0x20000000\n    size: 0x1C000",
                         "sram1: Memory.MappedMemory @ sysbus 0x20000000\n    size: 0x1400")
    small = small.replace("sram2: Memory.MappedMemory @ sysbus 0x2001C000\n    size: 0x4000\n", "")
    assert small.count("size: 0x1400") == 1 and "sram2:" not in small
    path = tmp_path_factory.mktemp("boards") / "small_sram_f446.repl"
    path.write_text(small)
    return path


def test_the_input_stays_in_the_arena_where_that_is_smaller():
    """The plan keeps the input whole (8192 B arena) rather than reuse its bytes and add a 3072 B buffer
    (6144 + 3072 B): the ELF has no download buffer, and the harness's share is 8192 - 6144 B."""
    mid, _, low = _plan(KEPT)
    assert low.keep_input
    fw = pipeline.build(load_board("nucleo_f446re"), low, mid)
    objects = _objects(fw.elf)
    assert "tm_db_buffer" not in objects
    base = pipeline.replan(low, keep_input=False)
    assert objects["tm_arena"] == low.plan.arena_bytes < base.plan.arena_bytes + 3 * 32 * 32
    assert pipeline.harness_ram(low, mid) == objects["tm_arena"] - base.plan.arena_bytes > 0


def test_a_tie_keeps_the_buffer():
    """Keeping ONCE's input whole adds its 1024 B to the arena, as the buffer does: the plan is the one
    that reuses the input's bytes, and the ELF has the buffer."""
    mid, _, low = _plan(ONCE)
    assert not low.keep_input
    objects = _objects(pipeline.build(load_board("nucleo_f446re"), low, mid).elf)
    assert objects["tm_db_buffer"] == 32 * 32 == pipeline.harness_ram(low, mid)
    assert objects["tm_arena"] == low.plan.arena_bytes


def test_a_model_that_fits_only_without_harness_bytes_runs_bit_exact(small_f446):
    mid, path, low = _plan(ONCE)
    board = load_board(str(small_f446))
    v = check_cell(mid, path, board, inputs=3, seed=0, task="vww")
    assert v.status == "pass", v.reasons
    assert v.mismatches == 0 and v.real_inputs and v.real_mismatches == 0
    assert v.harness_ram_bytes == 0
    assert any("one inference per download" in r for r in v.reasons)
    objects = _objects(v.elf)
    assert "tm_db_buffer" not in objects
    assert objects["tm_arena"] == low.plan.arena_bytes == v.arena_bytes
    assert v.fit.fits and v.fit.sram.used <= board.sram_size == 0x1400
    assert len(v.outputs) == 2
    # the report states the harness's share: none here; on the full F446RE, the 1024 B buffer
    full = check_cell(mid, path, load_board("nucleo_f446re"), inputs=1, seed=0)
    assert full.harness_ram_bytes == _objects(full.elf)["tm_db_buffer"] == 1024
    meta = {"started": "2026-01-01T00-00-00", "wall_seconds": 1.0, "cpus": 1, "inputs": 3, "seed": 0}
    text = summary_markdown([v, full], {}, meta)
    assert f"| {mid} | small_sram_f446 | {v.fit.sram.used:,} | 0 | {v.fit.sram.used:,} |" in text
    assert (f"| {mid} | nucleo_f446re | {full.fit.sram.used:,} | 1,024 | {full.fit.sram.used - 1024:,} |"
            in text)


def test_the_once_image_refuses_a_second_inference_on_one_download(small_f446):
    """Its input's bytes were reused by the first inference: `infer 1 1` is refused before any, and after
    one inference the download is gone; a new one runs again."""
    mid, _, low = _plan(ONCE)
    board = load_board(str(small_f446))
    fw, fits, _, once = pipeline.build_or_measure(board, low, mid)
    assert fits and once
    client = DutClient(EmulatedBoard(board, fw.elf))
    client.wait_ready()
    x = random_inputs(low.input_tensors, 1, 0)[0]
    client.load_inputs(x)
    with pytest.raises(ProtocolError, match="once per download"):
        client.infer(1, 1)
    first = client.infer(1, 0).outputs
    with pytest.raises(ProtocolError, match="Input not loaded"):
        client.infer(1, 0)
    client.load_inputs(x)
    assert client.infer(1, 0).outputs == first


def test_a_build_the_link_refuses_for_its_stack_is_no_fit(small_f446, tmp_path):
    """gen_kws_dscnn_xs (a 490 B input, so a 490 B download buffer) on one SRAM bank 4 B larger than its
    image's static RAM: the link refuses that image for the 1 KB it keeps for the stack, and the image that
    downloads into the input tensor too (490 B less, still short of 1 KB). The verdict is no-fit, counting
    that 1 KB, and nothing ran (before, the static RAM alone fitted and the cell said pass, unrun)."""
    mid, path, low = _plan("gen_kws_dscnn_xs")
    assert pipeline.harness_ram(low, mid) == 490
    fw = pipeline.build(load_board("nucleo_f446re"), low, mid)
    static = sum(s.size for s in read_elf(fw.elf).sections if s.alloc and s.write)
    tight = tmp_path / "tight_f446.repl"
    tight.write_text(small_f446.read_text().replace("size: 0x1400", f"size: 0x{static + 4:X}"))
    board = load_board(str(tight))
    v = check_cell(mid, path, board, inputs=1, seed=0)
    assert v.status == "no-fit", (v.status, v.reasons)
    assert v.fit.stack == 1024 and v.fit.sram.used == v.fit.static_ram + 1024 > board.sram_size
    assert f"SRAM needs {v.fit.sram.used:,} B of {board.sram_size:,} B".replace(",", " ") in v.reasons[-1]
    assert v.cycles is None and v.mismatches is None
