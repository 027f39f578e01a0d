"""Pictures for the report, after the MicroNets paper: memory per part (its Figure 2) and cycles against
MACs per board (its Figure 4); and the predicted latency per model and board with its error bars, with
the latencies measured on real boards where there are some."""
from __future__ import annotations

from pathlib import Path

from harness.check import Verdict

KB = 1024
# harness.fit.breakdown's parts by the region that holds them: what is loaded lies in flash, what the
# firmware writes in SRAM. A board's bar of each region is drawn against that region's capacity.
FLASH_PARTS = ["code", "weights", "quant tables", "op params", "other const"]
SRAM_PARTS = ["arena", "input buffer", "other RAM", "stack"]
# Flash also holds the initial values of .data (copied to SRAM at reset): the rest of the fit's flash use.
DATA_INIT = "initial .data values"
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def write_plots(verdicts: list[Verdict], folder: Path,
                measured: dict[tuple[str, str], float] | None = None) -> list[Path]:
    """`measured`: {(model, board): ms} from hardware runs of the same firmware builds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, fig in (("memory.png", memory_figure(verdicts)), ("cycles_vs_macs.png", cycles_figure(verdicts))):
        fig.savefig(folder / name, dpi=100)
        plt.close(fig)
        written.append(folder / name)
    if latency_plot(verdicts, folder / "latency.png", measured or {}):
        written.append(folder / "latency.png")
    return written


def memory_figure(verdicts: list[Verdict]):
    """Per board, two panels: the flash each model uses, by part, against the board's flash; the SRAM
    it uses (the stack's high-water included) against the board's SRAM. A bar past the dashed line does
    not fit."""
    import matplotlib.pyplot as plt

    boards = sorted({v.board for v in verdicts}) or ["(no cells)"]
    models = list(dict.fromkeys(v.model for v in verdicts if v.memory and v.fit))
    fig, axes = plt.subplots(2, len(boards), figsize=(6 * len(boards), 2 * (0.4 * len(models) + 1.5)),
                             squeeze=False)
    for col, board in enumerate(boards):
        cells = {v.model: v for v in verdicts if v.board == board and v.memory and v.fit}
        for ax, region in zip(axes[:, col], ("flash", "SRAM")):
            ax.set_title(f"{board}: {region}")
            ax.set_xlabel("KB")
            if not cells:
                _no_data(ax, "no memory figures: no cell on this board was built")
                continue
            _memory_bars(ax, [cells.get(m) for m in models], region)
            ax.set_yticks(range(len(models)), models)
            ax.invert_yaxis()
            ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return fig


def _memory_bars(ax, cells: list[Verdict | None], region: str) -> None:
    """Stacked bars of one region's parts (a missing cell: no bar) and the region's capacity line."""
    flash = region == "flash"
    parts = {p: [c.memory.get(p, 0) if c else 0 for c in cells] for p in (FLASH_PARTS if flash else SRAM_PARTS)}
    if flash:
        parts[DATA_INIT] = [max(0, c.fit.flash.used - sum(c.memory.get(p, 0) for p in FLASH_PARTS)) if c else 0
                            for c in cells]
    left = [0.0] * len(cells)
    for part, sizes in parts.items():
        if any(sizes):
            ax.barh(range(len(cells)), [n / KB for n in sizes], left=left, label=part)
            left = [a + n / KB for a, n in zip(left, sizes)]
    use = next(c.fit.flash if flash else c.fit.sram for c in cells if c)   # the same capacity on every cell
    ax.axvline(use.size / KB, color="black", linestyle="--", label=f"{region} capacity {use.size / KB:,.0f} KB")


def cycles_figure(verdicts: list[Verdict]):
    """Cycles against MACs, one marker shape per board, hollow, so a board whose points are another's (the
    F746ZG and F767ZI: the same core and memory timing) shows both markers; its legend entry says so."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    drawn: dict[str, list[tuple[int, int]]] = {}
    for i, board in enumerate(sorted({v.board for v in verdicts})):
        points = sorted((v.macs, v.cycles) for v in verdicts if v.board == board and v.cycles and v.macs)
        if not points:
            continue
        same = [b for b, p in drawn.items() if p == points]
        label = board + (f" (same points as {', '.join(same)})" if same else "")
        ax.scatter(*zip(*points), marker=MARKERS[i % len(MARKERS)], s=60 + 40 * len(same), facecolors="none",
                   edgecolors=f"C{i}", label=label)
        drawn[board] = points
    if drawn:                 # a log axis with no positive value cannot be laid out
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend()
    else:
        _no_data(ax, "no cycles: no cell ran on a board\n(every cell unsupported, not fitting or broken)", ticks=True)
    ax.set_xlabel("MACs per inference")
    ax.set_ylabel("cycles per inference (emulated)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


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


def characterization_plots(summary: dict, folder: Path) -> list[Path]:
    """`harness characterize`'s figures: latency against MACs per backbone (the MicroNets paper's Figure
    4: one panel per backbone, boards as series, the fitted line with its R^2), SRAM against the largest
    pair of live activations, flash against the parameters' bytes."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in summary["samples"] if r.get("fits") and "error" not in r]
    backbones = list(dict.fromkeys(r["backbone"] for r in ok)) or ["(no samples)"]
    boards = summary["boards"]
    written = []
    fig, axes = plt.subplots(1, len(backbones), figsize=(5.5 * len(backbones), 4.5), squeeze=False)
    for ax, backbone in zip(axes[0], backbones):
        ax.set_title(f"{backbone}: latency vs MACs")
        for i, board in enumerate(boards):
            pts = sorted((r["macs"], r["latency_ms"]) for r in ok if r["backbone"] == backbone and r["board"] == board)
            fit = summary["linear"].get(backbone, {}).get(board, {})
            if not pts:
                continue
            label = board + (f" (R² {fit['r2']:.4f})" if "r2" in fit else "")
            ax.scatter(*zip(*pts), marker=MARKERS[i % len(MARKERS)], facecolors="none", edgecolors=f"C{i}", label=label)
            if "slope" in fit:
                xs = [pts[0][0], pts[-1][0]]
                ax.plot(xs, [fit["intercept"] + fit["slope"] * x for x in xs], color=f"C{i}", linewidth=1)
        if not pts:
            _no_data(ax, "no sample ran")
        ax.set_xlabel("MACs per inference")
        ax.set_ylabel("latency (ms, emulated cycles through the board's table)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    written.append(_save(fig, folder / "latency_vs_ops.png"))
    for name, xkey, ykey, xlabel, ylabel in (
            ("sram_vs_activations.png", "activations", "sram", "largest live activations (B, the planner's bound)",
             "SRAM (B: static data + stack high-water)"),
            ("flash_vs_params.png", "param_bytes", "flash", "parameters (B, constant tensors)", "flash (B)")):
        fig, ax = plt.subplots(figsize=(7, 5))
        for i, board in enumerate(boards):
            for j, backbone in enumerate(backbones):
                pts = [(r[xkey], r[ykey]) for r in ok if r["backbone"] == backbone and r["board"] == board]
                if pts:
                    ax.scatter(*zip(*pts), marker=MARKERS[j % len(MARKERS)], facecolors="none",
                               edgecolors=f"C{i}", label=f"{backbone} on {board}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if ok:
            ax.legend(fontsize="small")
        else:
            _no_data(ax, "no sample ran", ticks=True)
        written.append(_save(fig, folder / name))
    return written


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
