"""The zoo, cell by cell: bit-exact with TFLM, and the fit verdict against the registry's expectation.

Cells come from the harness pytest plugin (harness/pytest_plugin.py): by default the quick set (every
model on the biggest board, the small ones on every board, every cell expected not to fit) with a few
inputs; `--zoo=full` (or HARNESS_ZOO=full) runs every model on every board with 20. Each cell runs once
per session however many tests look at it; its flash, SRAM and cycles are JUnit properties.
"""
import pytest

from harness import registry
from harness.inputs import real_inputs
from harness.plan.model import load_model

pytestmark = pytest.mark.emulated


def _runs(v):
    if v.status == "unsupported":
        pytest.skip(f"unsupported: {v.reasons[0]}")
    assert v.status != "error", "\n".join(v.reasons)


def test_bit_exact(zoo_verdict):
    v = zoo_verdict
    _runs(v)
    if v.fit is not None and not v.fit.fits:
        pytest.skip(f"not run: {v.reasons[-1] if v.reasons else 'does not fit'}")
    assert v.mismatches == 0, f"{v.mismatches} of {v.inputs} outputs differ from TFLM"
    assert v.inputs > 0


def test_real_inputs_compared_as_harness_check_does(zoo_verdict, harness_session, zoo_cell):
    """The cell compares the real inputs of its registry task (images, speech MFCC, AD windows) that this
    machine has, exactly the set `harness check` compares, and they are bit-exact too."""
    v = zoo_verdict
    _runs(v)
    if v.fit is not None and not v.fit.fits:
        pytest.skip("not run: does not fit")
    entry = registry.load_zoo().get(v.model)
    g = load_model(harness_session.model_path(zoo_cell))
    expected = [name for name, _ in real_inputs(entry.task if entry else None, [g.tensor(t) for t in g.inputs])]
    assert v.real_inputs == expected
    assert v.real_mismatches in (None, 0), f"{v.real_mismatches} real inputs differ from TFLM"


def test_fit_verdict(zoo_verdict):
    v = zoo_verdict
    _runs(v)
    assert v.fit is not None, "no fit measured"
    assert 0 < v.fit.flash.used and 0 < v.fit.sram.used
    if v.expected_fit:
        assert v.fit.fits, f"the registry expects it to fit: {'; '.join(v.reasons)}"
    if v.fit.fits:
        assert v.fit.stack, "a cell that fits has run and measured its stack"
    assert v.status not in ("fail", "error"), "; ".join(v.reasons)


@pytest.mark.patch_plan
def test_patch_plan(zoo_verdict):
    """With `pytest --patch auto` (or a split): the cell's patch-based plan is bit-exact with TFLM and its
    verdict is not a failure; a cell that fits only with it passes (check.py). Deselected without --patch."""
    v = zoo_verdict
    _runs(v)
    assert v.patch is not None, "--patch was given: the cell must have run its patch plan"
    if v.patch.get("arena_bytes") is None:
        pytest.skip(f"no patch plan: {'; '.join(v.patch['reasons'])}")
    assert v.patch["status"] not in ("fail", "error"), v.patch["reasons"]
    if v.patch["fits"]:
        assert v.patch["mismatches"] == 0
