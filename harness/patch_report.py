"""`harness patch`'s outputs: the candidate table and patch.png (peak SRAM against MAC overhead, the Pareto
front highlighted, the chosen plan and layer by layer marked), from harness/plan/patch.py's search."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from harness.check import Verdict
from harness.plan.patch import Candidate, pareto

# `harness bench patch`'s default models: the zoo's image models and the project's own (MCUNet-like, MobileNetV2)
BENCH_MODELS = ("person_detect", "vww_96_int8", "vww2_50_50", "vww3_128_128", "gen_vww_mobilenet_xs",
                "gen_mcunet_f446", "gen_mobilenet_v2_035_160")


def table(cands: list[Candidate], chosen: Candidate, title: str, sram: int | None = None) -> Table:
    front = set(pareto(cands))
    t = Table(title=title, header_style="bold", caption=f"{len(cands)} plans searched; those on the Pareto front "
              "(no other plan has both a smaller arena and fewer MACs), layer by layer and the chosen one shown. "
              "arena: the model input in it, kept whole, as the firmware runs it (TFLM-comparable); input "
              "streamed: the model input streamed from outside the arena (MCUNetV2's accounting), planned only. "
              ":cache = the rows' halo kept in a cache instead of computed again")
    for col in ("plan", "arena B", "vs layer by layer", "input streamed B", "vs layer by layer ", "MACs",
                "MAC overhead", "on front", *(["arena vs SRAM"] if sram else [])):
        t.add_column(col, justify="left" if col == "plan" else "right")
    base = cands[0]
    shown = [c for c in cands if c in front or c in (base, chosen)]
    for c in sorted(shown, key=lambda c: (c.arena, c.macs)):
        t.add_row(str(c) + ("  <- chosen" if c == chosen else ""), f"{c.arena:,}", f"{c.arena / base.arena:.2f}x",
                  *((f"{c.streamed:,}", f"{c.streamed / base.streamed:.2f}x") if c.streamed and base.streamed
                    else ("-", "-")), f"{c.macs:,}", f"{c.overhead:+.1%}", "*" if c in front else "",
                  *([f"{'<=' if c.arena <= sram else '>'} {sram:,}"] if sram else []),
                  style="bold" if c == chosen else None)
    return t


def figure(cands: list[Candidate], chosen: Candidate, title: str, max_overhead: float):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    front = pareto(cands)
    ax.scatter([100 * c.overhead for c in cands], [c.arena / 1024 for c in cands], s=18, color="0.6",
               label="split x grid")
    ax.plot([100 * c.overhead for c in front], [c.arena / 1024 for c in front], "o-", color="tab:blue",
            label="Pareto front")
    base = cands[0]
    ax.scatter([0], [base.arena / 1024], marker="s", s=70, color="black", label="layer by layer", zorder=3)
    ax.scatter([100 * chosen.overhead], [chosen.arena / 1024], marker="*", s=220, color="tab:red",
               label=f"chosen: {chosen}", zorder=4)
    streamed = [c for c in cands if c.streamed]
    ax.scatter([100 * c.overhead for c in streamed], [c.streamed / 1024 for c in streamed], s=18,
               facecolors="none", edgecolors="tab:green", label="input streamed (MCUNetV2's accounting)")
    if chosen.streamed:
        ax.scatter([100 * chosen.overhead], [chosen.streamed / 1024], marker="*", s=220, facecolors="none",
                   edgecolors="tab:red", zorder=4)
    ax.axvline(100 * max_overhead, color="tab:red", linestyle=":", linewidth=1, label="MAC overhead budget")
    ax.set_xlabel("MAC overhead (%)")
    ax.set_ylabel("peak SRAM: planned arena (KB)")
    ax.set_title(title)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def write_figure(cands: list[Candidate], chosen: Candidate, title: str, max_overhead: float, path: Path) -> Path:
    import matplotlib.pyplot as plt
    fig = figure(cands, chosen, title, max_overhead)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def bench_table(verdicts: list[Verdict]) -> Table:
    """Layer by layer -> the patch plan per cell, as `harness check --patch` ran them on the boards."""
    t = Table(title="harness bench patch: layer by layer -> patch-based plan, on the emulated boards",
              header_style="bold")
    for col in ("model", "board", "plan", "arena B", "input streamed B", "SRAM B", "MACs", "cycles", "latency ms",
                "verdict"):
        t.add_column(col, justify="left" if col in ("model", "board", "plan", "verdict") else "right")
    arrow = lambda a, b, f="{:,}": f"{f.format(a) if a is not None else '-'} -> {f.format(b) if b is not None else '-'}"  # noqa: E731
    for v in verdicts:
        p = v.patch or {}
        if p.get("arena_bytes") is None:
            t.add_row(v.model, v.board, p.get("split") or "-", "", "", "", "", "", "",
                      f"{v.status}; {'; '.join(p.get('reasons', v.reasons[:1]))}")
            continue
        t.add_row(v.model, v.board, p["split"], arrow(v.arena_bytes, p["arena_bytes"]),
                  arrow(p.get("base_arena_streamed"), p.get("arena_streamed")),
                  arrow(v.fit.sram.used if v.fit else None, p["sram_used"]), f"{p['overhead']:+.1%}",
                  arrow(v.cycles, p["cycles"]), arrow(v.latency_ms, p["latency_ms"], "{:.1f}"),
                  f"{v.status} (patch: {p['status']})")
    return t
