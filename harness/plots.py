"""Pictures for the report, after the MicroNets paper: memory per part (its Figure 2) and cycles against
MACs per board (its Figure 4)."""
from __future__ import annotations

from pathlib import Path

from harness.check import Verdict

PARTS = ["code", "weights", "quant tables", "op params", "other const", "arena", "input buffer", "other RAM",
         "stack"]


def write_plots(verdicts: list[Verdict], folder: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    boards = sorted({v.board for v in verdicts})
    written = []
    fig, axes = plt.subplots(1, len(boards), figsize=(6 * len(boards), 0.5 * len({v.model for v in verdicts}) + 2),
                             sharey=True, squeeze=False)
    for ax, board in zip(axes[0], boards):
        cells = [v for v in verdicts if v.board == board and v.memory]
        left = [0.0] * len(cells)
        for part in PARTS:
            sizes = [v.memory.get(part, 0) / 1024 for v in cells]
            ax.barh([v.model for v in cells], sizes, left=left, label=part)
            left = [a + b for a, b in zip(left, sizes)]
        ax.set_title(board)
        ax.set_xlabel("KB (flash parts, then RAM parts)")
    axes[0][0].legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(folder / "memory.png", dpi=100)
    written.append(folder / "memory.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 5))
    for board in boards:
        cells = [v for v in verdicts if v.board == board and v.cycles and v.macs]
        ax.scatter([v.macs for v in cells], [v.cycles for v in cells], label=board)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("MACs per inference")
    ax.set_ylabel("cycles per inference (emulated)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "cycles_vs_macs.png", dpi=100)
    written.append(folder / "cycles_vs_macs.png")
    plt.close(fig)
    return written
