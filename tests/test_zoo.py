"""The zoo, cell by cell: bit-exact with TFLM, and the fit verdict against the registry's expectation.

Cells come from the harness pytest plugin (harness/pytest_plugin.py): by default the quick set (every
model on the biggest board, the small ones on every board, every cell expected not to fit) with a few
inputs; `--zoo=full` (or HARNESS_ZOO=full) runs every model on every board with 20. Each cell runs once
per session however many tests look at it; its flash, SRAM and cycles are JUnit properties.
"""
import pytest

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
