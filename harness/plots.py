"""Pictures for the report, after the MicroNets paper: memory per part (its Figure 2) and cycles against
MACs per board (its Figure 4); and the predicted latency per model and board with its error bars, with
the latencies measured on real boards where there are some."""
from __future__ import annotations

from pathlib import Path

from harness.check import Verdict

PARTS = ["code", "weights", "quant tables", "op params", "other const", "arena", "input buffer", "other RAM",
         "stack"]


def write_plots(verdicts: list[Verdict], folder: Path,
                measured: dict[tuple[str, str], float] | None = None) -> list[Path]:
    """`measured`: {(model, board): ms} from hardware runs of the same firmware builds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    boards = sorted({v.board for v in verdicts}) or ["(no cells)"]
    written = []
    fig, axes = plt.subplots(1, len(boards), figsize=(6 * len(boards), 0.5 * len({v.model for v in verdicts}) + 2),
                             sharey=True, squeeze=False)
    for ax, board in zip(axes[0], boards):
        cells = [v for v in verdicts if v.board == board and v.memory]
        if not cells:
            _no_data(ax, "no memory figures: no cell on this board was built")
        left = [0.0] * len(cells)
        for part in PARTS if cells else []:
            sizes = [v.memory.get(part, 0) / 1024 for v in cells]
            ax.barh([v.model for v in cells], sizes, left=left, label=part)
            left = [a + b for a, b in zip(left, sizes)]
        ax.set_title(board)
        ax.set_xlabel("KB (flash parts, then RAM parts)")
    legend_ax = next((ax for ax in axes[0] if ax.get_legend_handles_labels()[0]), None)
    if legend_ax is not None:         # the first board with bars (none: a legend of nothing)
        legend_ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(folder / "memory.png", dpi=100)
    written.append(folder / "memory.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 5))
    plotted = False
    for board in boards:
        cells = [v for v in verdicts if v.board == board and v.cycles and v.macs]
        if cells:
            ax.scatter([v.macs for v in cells], [v.cycles for v in cells], label=board)
            plotted = True
    if plotted:               # a log axis with no positive value cannot be laid out
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend()
    else:
        _no_data(ax, "no cycles: no cell ran on a board\n(every cell unsupported, not fitting or broken)", ticks=True)
    ax.set_xlabel("MACs per inference")
    ax.set_ylabel("cycles per inference (emulated)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "cycles_vs_macs.png", dpi=100)
    written.append(folder / "cycles_vs_macs.png")
    plt.close(fig)
    if latency_plot(verdicts, folder / "latency.png", measured or {}):
        written.append(folder / "latency.png")
    return written


def _no_data(ax, text: str, ticks: bool = False) -> None:
    """A figure without data says so, in its middle (`ticks`: clear the axes' ticks too; not on an axis
    shared with others)."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize="large", color="0.4")
    if ticks:
        ax.set_xticks([])
        ax.set_yticks([])


def latency_plot(verdicts: list[Verdict], path: Path, measured: dict[tuple[str, str], float]) -> bool:
    """Predicted latency per model (rows) and board (colours) with error bars; measured points as
    crosses. False (no file) when no cell has a latency."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [v for v in verdicts if v.prediction is not None]
    if not cells:
        return False
    boards = sorted({v.board for v in cells})
    models = list(dict.fromkeys(v.model for v in cells))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(models) * len(boards) + 1.5))
    step = 0.8 / len(boards)
    for j, board in enumerate(boards):
        colour = f"C{j}"
        rows = [(models.index(v.model), v.prediction) for v in cells if v.board == board]
        y = [i + (j - (len(boards) - 1) / 2) * step for i, _ in rows]
        ax.errorbar([p.latency_ms for _, p in rows], y, xerr=[p.latency_err_ms for _, p in rows], fmt="o",
                    color=colour, capsize=3, label=f"{board} ({rows[0][1].status if rows else ''})")
        hits = [(models.index(m) + (j - (len(boards) - 1) / 2) * step, ms)
                for (m, b), ms in measured.items() if b == board and m in models]
        if hits:
            ax.scatter([ms for _, ms in hits], [yy for yy, _ in hits], marker="x", s=60, color=colour,
                       label=f"{board} measured")
    ax.set_yticks(range(len(models)), models)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency per inference (ms): predicted ± error, x = measured on a board")
    ax.grid(True, which="both", axis="x", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
