"""`harness patch`'s outputs: the candidate table and patch.png (peak SRAM against MAC overhead, the Pareto
front highlighted, the chosen plan and layer by layer marked), from harness/plan/patch.py's search."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from harness.plan.patch import Candidate, pareto


def table(cands: list[Candidate], chosen: Candidate, title: str, sram: int | None = None) -> Table:
    front = set(pareto(cands))
    t = Table(title=title, header_style="bold", caption=f"{len(cands)} plans searched; those on the Pareto front "
              "(no other plan has both a smaller arena and fewer MACs), layer by layer and the chosen one shown")
    for col in ("plan", "arena B", "vs layer by layer", "MACs", "MAC overhead", "on front", *(
            ["arena vs SRAM"] if sram else [])):
        t.add_column(col, justify="left" if col == "plan" else "right")
    base = cands[0]
    shown = [c for c in cands if c in front or c in (base, chosen)]
    for c in sorted(shown, key=lambda c: (c.arena, c.macs)):
        t.add_row(str(c) + ("  <- chosen" if c == chosen else ""), f"{c.arena:,}", f"{c.arena / base.arena:.2f}x",
                  f"{c.macs:,}", f"{c.overhead:+.1%}", "*" if c in front else "",
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
