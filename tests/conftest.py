from pathlib import Path

import pytest

from harness import registry

# The (model, board) parametrization, --board/--model/--zoo/--lab and the session cache. When the package
# is installed its pytest11 entry point (the same name) has loaded it already and this is a no-op.
pytest_plugins = ["harness.pytest_plugin"]

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "models"


def shared_model(rel: str) -> Path:
    p = SHARED / rel
    if not p.is_file():
        pytest.skip(f"{rel} is not on this machine (../shared/models absent)")
    return p


@pytest.fixture(scope="session")
def generated_model() -> Path:
    """A model this project builds itself: there on every machine."""
    return registry.resolve("gen_ad_fc_s")[1]


@pytest.fixture(scope="session")
def small_model() -> tuple[str, Path]:
    """The walking-skeleton model: TFLM's hello_world where ../shared has it, else our own."""
    p = SHARED / "tflite-micro/hello_world_int8.tflite"
    return ("hello_world_int8", p) if p.is_file() else registry.resolve("gen_ad_fc_s")


@pytest.fixture(scope="module")
def bench_elf():
    """The cycle microbenchmark firmware (tests/firmware/cycles_bench.c): board name -> (board, ELF)."""
    from firmware_boot import firmware
    return firmware("cycles_bench")
