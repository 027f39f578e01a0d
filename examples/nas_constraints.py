"""A seeded random search over a DS-CNN space (the KWS backbone of harness/calibration/workload.py) that
keeps the candidates meeting an NUCLEO-F446RE budget -- SRAM <= 128 KB, flash <= 512 KB, latency <= 100
ms -- as `harness.predict` answers them (no build, no emulator), then checks the survivors with
`harness check` on the emulated board: how many the predictor admitted that the check rejected (should
be none), and the Pareto front of MACs against latency.

    python examples/nas_constraints.py --count 20 --seed 0

The predictor is judged by its stated upper bounds: a candidate is admitted when its flash, SRAM and
latency plus their errors are within the budget, so "admitted but rejected" can only come from an error
larger than the one stated.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402
from harness.board import load_board  # noqa: E402
from harness.calibration.workload import backbone_specs  # noqa: E402
from harness.characterize import sample_tflite  # noqa: E402
from harness.check import check_cell  # noqa: E402

BOARD = "nucleo_f446re"
BUDGET = {"sram": 128 * 1024, "flash": 512 * 1024, "latency_ms": 100.0}


def admitted(p) -> bool:
    return (p.sram + p.sram_err <= BUDGET["sram"] and p.flash + p.flash_err <= BUDGET["flash"]
            and p.latency_ms + p.latency_err_ms <= BUDGET["latency_ms"])


def checked_ok(v) -> bool:
    return (v.status == "pass" and v.fit.sram.used <= BUDGET["sram"] and v.fit.flash.used <= BUDGET["flash"]
            and v.latency_ms <= BUDGET["latency_ms"])


def pareto(points: list[tuple[int, float, str]]) -> list[tuple[int, float, str]]:
    """The candidates no other beats on both more MACs (capacity) and less latency."""
    return [p for p in points if not any(q[0] >= p[0] and q[1] <= p[1] and q != p for q in points)]


def search(count: int, seed: int) -> dict:
    specs = backbone_specs("kws", count, seed)
    preds = {s.name: (s, harness.predict(sample_tflite("kws", s), BOARD, model_id=s.name)) for s in specs}
    keep = {name: sp for name, sp in preds.items() if admitted(sp[1])}
    wrong, front = [], []
    for name, (spec, p) in keep.items():
        v = check_cell(name, sample_tflite("kws", spec), load_board(BOARD), inputs=1)
        if not checked_ok(v):
            wrong.append(name)
        else:
            front.append((p.macs, v.latency_ms, name))
    return {"candidates": len(specs), "admitted": sorted(keep), "admitted_but_rejected": wrong,
            "pareto": sorted(pareto(front))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    r = search(a.count, a.seed)
    print(f"{r['candidates']} candidates, {len(r['admitted'])} admitted by harness.predict, "
          f"{len(r['admitted_but_rejected'])} of them rejected by harness check")
    print("Pareto front (MACs, checked latency):")
    for macs, ms, name in r["pareto"]:
        print(f"  {name}: {macs:,} MACs, {ms:.2f} ms")
    return 1 if r["admitted_but_rejected"] else 0


if __name__ == "__main__":
    sys.exit(main())
