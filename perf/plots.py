"""PNG plots of a bench run: GB/s vs size with the copy roofline, speed-ups, peak memory per element.

One panel per series (everything but the size), in the order the docs present the losses
(binary, softmax, the head, varifocal, quality focal, distribution focal), class counts
numerically, float32 / bfloat16 / float16, forward before forward + backward.  The panels of a
figure share their y-scale (they compare), which covers every point; the legend sits below the
panels, off the data.  A CPU run (``label`` given) gets only the speed-up plot: GB/s of the
interpreter mean nothing, and CUDA's allocator statistics are the only memory measurement.
"""

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter

from .cli import BENCH_LOSSES

# Each provider its colour, line style and marker, so lines that coincide stay visible.
STYLES = {
    "focal_triton": {"color": "tab:green", "linestyle": "-", "marker": "o", "markersize": 5},
    "eager": {"color": "tab:red", "linestyle": "--", "marker": "s", "markersize": 4},
    "compile": {"color": "tab:blue", "linestyle": ":", "marker": "^", "markersize": 4},
    "vs eager": {"color": "tab:red", "linestyle": "--", "marker": "s", "markersize": 4},
    "vs torch.compile": {"color": "tab:blue", "linestyle": "-", "marker": "o", "markersize": 4},
}
LOSS_ORDER = BENCH_LOSSES  # the docs' order of the losses, as the command lists them
DTYPE_ORDER = ("float32", "bfloat16", "float16")
MODE_ORDER = ("fwd", "fwd_bwd")
REDUCTION_ORDER = ("mean", "sum", "none")


def series_order(row):
    """Sort key of a row's series: loss, then row-major before NCHW, the class count as a
    number (C=2 before C=1000), dtype, target kind, mode, reduction."""
    dims = [int(d) for d in str(row["shape"]).split("x")]
    classes = dims[1] if row["loss"] == "softmax" else 1
    return (
        LOSS_ORDER.index(row["loss"]) if row["loss"] in LOSS_ORDER else len(LOSS_ORDER),
        row["loss"],
        len(dims),
        classes,
        DTYPE_ORDER.index(row["dtype"]),
        row["target"],
        MODE_ORDER.index(row["mode"]),
        REDUCTION_ORDER.index(row["reduction"]),
    )


def _measured(value):
    return value == value  # not NaN


def _lines(rows, series, value, providers=None, name=None):
    """line name -> (elements, values) of one series, sorted by size: one line per provider
    (or the single line ``name`` of the given providers); ``value(row)`` gives the y value."""
    lines = {}
    for row in rows:
        wanted = providers is None or row["provider"] in providers
        if row["series"] == series and wanted and _measured(value(row)):
            xs, ys = lines.setdefault(name or row["provider"], ([], []))
            xs.append(row["elements"])
            ys.append(value(row))
    return {p: tuple(zip(*sorted(zip(*xy, strict=True)), strict=True)) for p, xy in lines.items()}


def _bandwidth(rows, series):
    return _lines(rows, series, lambda row: row["gbps"])


def _bytes_per_element(rows, series):
    return _lines(rows, series, lambda row: row["peak_memory_bytes"] / row["elements"])


def _speedups(rows, series):
    return {
        **_lines(rows, series, lambda row: row["speedup_vs_eager"], ("focal_triton",), "vs eager"),
        **_lines(rows, series, lambda row: row["speedup_vs_compile"], ("focal_triton",), "vs torch.compile"),
    }


def _times(value):
    """Tick labels of a speed-up axis: 1/256x, 0.25x, 0.5x, 1x, 2x, 16x."""
    return f"{value:g}x" if value >= 0.1 else f"1/{round(1 / value)}x"


def _decorate_speedup(ax, low, high):
    """A log2 axis from below the lowest to above the highest point, 0.5x..2x at least."""
    ax.set_yscale("log", base=2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: _times(value)))
    ax.axhline(1.0, color="black", linewidth=1.2, label="1x: as fast")
    ax.set_ylim(min(low / 1.3, 0.5), max(high * 1.3, 2.0))
    ax.axhspan(ax.get_ylim()[0], 1.0, color="tab:red", alpha=0.07)  # slower than the baseline


def _decorate_roofline(rows):
    copy = next((r["copy_gbps"] for r in rows if _measured(r["copy_gbps"])), None)

    def decorate(ax, low, high):
        if copy:
            ax.axhline(copy, color="gray", linestyle="--", label=f"copy bandwidth ({copy:.0f} GB/s)")
        ax.set_ylim(0, max(high, copy or 0) * 1.08)

    return decorate


def _decorate_memory(ax, low, high):
    ax.set_ylim(0, high * 1.08)


def _plot(rows, path, lines, ylabel, title, label, decorate):
    series_names = sorted({row["series"]: series_order(row) for row in rows}.items(), key=lambda item: item[1])
    series_names = [name for name, _ in series_names if lines(rows, name)]
    if not series_names:
        return None
    values = [y for name in series_names for _, ys in lines(rows, name).values() for y in ys]
    columns = min(3, len(series_names))
    grid_rows = math.ceil(len(series_names) / columns)
    figure, axes = plt.subplots(
        grid_rows,
        columns,
        figsize=(6 * columns, 3.8 * grid_rows + 1.2),
        squeeze=False,
        layout="constrained",
        sharey=True,
    )
    for extra in axes.flat[len(series_names) :]:
        extra.set_visible(False)
    legend = {}
    for ax, series in zip(axes.flat, series_names, strict=False):  # the grid may have a spare panel
        for name, (xs, ys) in lines(rows, series).items():
            ax.plot(xs, ys, label=name, **STYLES.get(name, {}))
        ax.set_xscale("log", base=2)
        decorate(ax, min(values), max(values))
        ax.set_title(series, fontsize=9)
        ax.set_xlabel("logits (elements)")
        ax.set_ylabel(ylabel)
        ax.yaxis.set_tick_params(labelleft=True)
        ax.grid(True, alpha=0.3)
        legend.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    figure.legend(legend.values(), legend.keys(), loc="outside lower center", ncols=len(legend), fontsize=9)
    figure.suptitle(title + (f"\n{label}" if label else ""), fontsize=12, color="black" if not label else "darkred")
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def write_plots(rows, out_dir, label=None, prefix=""):
    """``<prefix>speedup.png`` and, for GPU runs, ``<prefix>bandwidth.png`` and ``<prefix>memory.png``
    under ``out_dir``; ``label`` marks CPU runs.  Returns the paths written."""
    device = rows[0]["device"]
    path = lambda name: os.path.join(out_dir, f"{prefix}{name}.png")  # noqa: E731
    speedup = _plot(
        rows,
        path("speedup"),
        _speedups,
        "speed-up of focal_triton",
        f"focal_triton over eager and over torch.compile of the reference, {device} (shaded: slower than the baseline)",
        label,
        _decorate_speedup,
    )
    if label is not None:  # a CPU run: only the speed-ups mean something
        return [p for p in (speedup,) if p]
    written = [
        _plot(
            rows,
            path("bandwidth"),
            _bandwidth,
            "GB/s (ideal bytes / time)",
            f"Effective bandwidth, {device}",
            label,
            _decorate_roofline(rows),
        ),
        speedup,
        _plot(
            rows,
            path("memory"),
            _bytes_per_element,
            "peak bytes per logit",
            f"Peak memory allocated during one step, per logit, {device}",
            label,
            _decorate_memory,
        ),
    ]
    return [p for p in written if p]
