"""PNG plots of a bench run: GB/s vs size with the copy roofline, speed-ups, peak memory."""

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLORS = {"focal_triton": "tab:green", "eager": "tab:red", "compile": "tab:blue", "vs eager": "tab:red",
          "vs torch.compile": "tab:blue"}  # fmt: skip


def _grid(series_names):
    columns = min(3, len(series_names))
    rows = math.ceil(len(series_names) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.6 * rows), squeeze=False)
    for extra in axes.flat[len(series_names) :]:
        extra.set_visible(False)
    return figure, axes.flat


def _lines(rows, series, column, providers=None, name=None):
    """line name -> (elements, values) of one series, sorted by size: one line per provider
    (or the single line ``name`` of the given providers)."""
    lines = {}
    for row in rows:
        wanted = providers is None or row["provider"] in providers
        if row["series"] == series and wanted and row[column] == row[column]:
            xs, ys = lines.setdefault(name or row["provider"], ([], []))
            xs.append(row["elements"])
            ys.append(row[column])
    return {p: tuple(zip(*sorted(zip(*xy)))) for p, xy in lines.items()}


def _by_provider(column):
    return lambda rows, series: _lines(rows, series, column)


def _speedups(rows, series):
    return {
        **_lines(rows, series, "speedup_vs_eager", ("focal_triton",), "vs eager"),
        **_lines(rows, series, "speedup_vs_compile", ("focal_triton",), "vs torch.compile"),
    }


def _plot(rows, path, lines, ylabel, title, label, roofline=False, log_y=False):
    series_names = sorted({row["series"] for row in rows})
    figure, axes = _grid(series_names)
    for ax, series in zip(axes, series_names):
        for name, (xs, ys) in lines(rows, series).items():
            ax.plot(xs, ys, marker="o", ms=3, label=name, color=COLORS.get(name))
        if roofline:
            copy = next((r["copy_gbps"] for r in rows if r["copy_gbps"] == r["copy_gbps"]), None)
            if copy:
                ax.axhline(copy, color="gray", linestyle="--", label="copy bandwidth")
        ax.set_xscale("log", base=2)
        if log_y:
            ax.set_yscale("log", base=2)
        ax.set_title(series, fontsize=9)
        ax.set_xlabel("logits (elements)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    figure.suptitle(title + (f"\n{label}" if label else ""), fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_plots(rows, out_dir, label=None):
    """bandwidth.png, speedup.png and memory.png under ``out_dir``; ``label`` marks CPU runs."""
    device = rows[0]["device"]
    _plot(rows, os.path.join(out_dir, "bandwidth.png"), _by_provider("gbps"), "GB/s (ideal bytes / time)",
          f"Effective bandwidth, {device}", label, roofline=True)  # fmt: skip
    _plot(rows, os.path.join(out_dir, "speedup.png"), _speedups, "speed-up of focal_triton (x)",
          f"focal_triton over eager and over torch.compile of the reference, {device}", label, log_y=True)  # fmt: skip
    _plot(rows, os.path.join(out_dir, "memory.png"), _by_provider("peak_memory_bytes"),
          "peak bytes, forward + backward", f"Peak memory above the inputs, {device}", label, log_y=True)  # fmt: skip
