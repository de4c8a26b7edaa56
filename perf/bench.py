"""``focal-triton bench``: focal_triton against eager PyTorch and torch.compile, swept over sizes.

Every point is checked against the eager reference before it is timed.  GB/s
counts the bytes an ideal kernel must move (``ideal_bytes``), not the bytes an
implementation happens to move, so the lines of one plot compare like with like.
"""

import csv
import functools
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import triton
from focal_triton.kernels.sigmoid_focal import sigmoid_focal_bytes_per_element, sigmoid_focal_index_bytes_per_element
from focal_triton.kernels.softmax_focal import softmax_focal_bytes_per_element

import focal_triton
from focal_triton import reference, tuning

from . import baselines
from .plots import write_plots
from .progress import Progress

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
CPU_LABEL = "CPU / interpreter: not a GPU measurement"
SOFTMAX_CLASSES = (2, 80, 1000, 32000, 128000)
SEGMENTATION_CLASSES = 21  # (B, 21, H, W): PASCAL VOC
HEAD_CLASSES = 80  # the "head" series: a RetinaNet classification head on COCO
HEAD_POSITIVES = 0.01  # the share of anchors assigned a class (the rest are background, index 80)
# The focal family at detection-head shapes: B = 8 images x Q queries / anchors of C = 80 classes
# (RT-DETR's 300 queries, YOLO's 8400 anchors, a dense head's 100000), and DFL over 4 box sides x
# 8400 anchors x B of 16 / 17 bins.
FAMILY_QUERIES = (300, 8400, 100000)
DFL_BINS = (16, 17)


@dataclass
class Case:
    loss: str  # the name of its Series (SERIES)
    dtype: torch.dtype
    target: str  # "float" | "uint8" | "index" | "distance"
    mode: str  # "fwd" | "fwd_bwd"
    reduction: str  # "mean" | "none"
    shape: tuple

    @property
    def elements(self):
        return math.prod(self.shape)

    @property
    def rows(self):
        """Positions with one target each: every element of the same-shape loss, else a row of dim 1."""
        return self.elements if SERIES[self.loss].flat else self.elements // self.shape[1]

    @property
    def dtype_name(self):
        return str(self.dtype).replace("torch.", "")

    @property
    def series(self):
        """The plot line this point belongs to (everything but the size)."""
        return f"{SERIES[self.loss].label(self)} {self.mode} {self.reduction}"


@dataclass(frozen=True)
class Series:
    """One loss the bench sweeps, given once: adding a series is one entry of ``SERIES``.

    ours / eager: focal_triton's call and the code it replaces (``baselines``), both
    ``f(x, t, reduction=..., **options)``; torch.compile of ``eager`` is the third provider.
    reference: the float64 check (``focal_triton.reference``), called with ``check_options`` too.
    kernel: whose launch config a row reports.  targets(dtype, quick): the target kinds swept.
    shapes(requested, quick): the logits shapes for requested sizes (elements), or the series' own
    sweep when ``requested`` is None; cpu_shapes: the CPU smoke run's.  inputs(case, generator,
    device) -> (targets, options).  ideal_bytes(case): the bytes an ideal kernel moves.  label(case):
    the plot line before mode and reduction.  flat: targets of the logits' shape (one per element).
    """

    name: str
    ours: Callable
    eager: Callable
    reference: Callable
    kernel: str
    targets: Callable
    reductions: tuple
    shapes: Callable
    cpu_shapes: tuple
    inputs: Callable
    ideal_bytes: Callable
    label: Callable
    check_options: dict = field(default_factory=dict)
    flat: bool = False


def sweep(quick):
    """The sizes (elements) of a sweep: 2^12 .. 2^28 (every other one when quick)."""
    return [1 << e for e in (range(12, 27, 2) if quick else range(12, 29))]


def _with_grad_output(case, total, positions):
    """``total`` plus the grad_output the backward of 'none' reads (one per loss value)."""
    if case.mode == "fwd_bwd" and case.reduction == "none":
        total += case.dtype.itemsize * positions
    return total


# ----------------------------------------------------------------------------- the binary loss
def _binary_targets(dtype, quick):
    """Float and uint8 labels; quick: the headline pairs fp32/fp32, bf16/uint8, fp16/fp16."""
    if quick:
        return ("uint8",) if dtype == torch.bfloat16 else ("float",)
    return ("float", "uint8")


def _binary_inputs(case, generator, device):
    labels = torch.rand(case.shape, generator=generator) < 0.1
    return (labels.to(torch.uint8) if case.target == "uint8" else labels.to(case.dtype)).to(device), {}


def _binary_bytes(case):
    x = case.dtype.itemsize
    target = 1 if case.target == "uint8" else x
    total = case.elements * sigmoid_focal_bytes_per_element(x, target, case.reduction != "none", case.mode == "fwd_bwd")
    return _with_grad_output(case, total, case.elements)


def torchvision_on_any_targets(inputs, targets, **options):
    """torchvision's formula, casting the targets to the logits' dtype inside the function, so that
    eager and torch.compile read the uint8 labels focal_triton reads (compile fuses the cast)."""
    return baselines.torchvision_sigmoid_focal_loss(inputs, targets.to(inputs.dtype), **options)


# ----------------------------------------------------------------------------- the softmax loss
def _softmax_shapes(requested, quick):
    """Rows of each of SOFTMAX_CLASSES, and (8, 21, H, W) segmentation maps, of each size."""
    elements = requested or ([1 << 20, 1 << 24, 1 << 26] if quick else sweep(quick))
    shapes = [(max(n // classes, 1), classes) for classes in SOFTMAX_CLASSES for n in elements if n >= classes]
    for n in elements:
        side = int(math.sqrt(n / (8 * SEGMENTATION_CLASSES)))
        if side >= 8:
            shapes.append((8, SEGMENTATION_CLASSES, side, side))
    return shapes


def _softmax_inputs(case, generator, device):
    return torch.randint(0, case.shape[1], (case.shape[0], *case.shape[2:]), generator=generator).to(device), {}


def _softmax_bytes(case):
    # one read of the logits whatever the row length (as quack counts): an ideal kernel keeps
    # a long row on chip; focal_triton's online softmax reads it twice today
    x, reduce = case.dtype.itemsize, case.reduction != "none"
    total = case.elements * softmax_focal_bytes_per_element(x, True, case.mode == "fwd_bwd") + case.rows * 8
    total += 0 if reduce else x * case.rows  # the loss written
    return _with_grad_output(case, total, case.rows)


def _softmax_label(case):
    layout = f"(B,{case.shape[1]},H,W)" if len(case.shape) == 4 else f"C={case.shape[1]}"
    return f"softmax {layout} {case.dtype_name}"


# ----------------------------------------------------------------------------- detection heads
def _rows_of(width):
    """Shapes (elements / width, width) of requested sizes, or of the whole sweep."""
    return lambda requested, quick: [(n // width, width) for n in (requested or sweep(quick)) if n >= width]


def _family_shapes(width, default):
    """Requested sizes as rows of ``width``; else the family's detection-head shapes ``default(quick)``."""
    return lambda requested, quick: _rows_of(width)(requested, quick) if requested else default(quick)


def _head_inputs(case, generator, device):
    """A RetinaNet head's call: 1% of the anchors positive, mmdet's label weights (0 = ignored) per
    anchor, and for 'mean' the positives as the normalizer, on the device (no sync)."""
    anchors = case.shape[0]
    positive = torch.rand(anchors, generator=generator) < HEAD_POSITIVES
    labels = torch.where(positive, torch.randint(0, HEAD_CLASSES, (anchors,), generator=generator), HEAD_CLASSES)
    weight = (torch.rand(anchors, 1, generator=generator) > 0.05).float()
    labels, weight = labels.to(device), weight.to(device)
    options = {"weight": weight}
    if case.reduction == "mean":
        options["normalizer"] = (labels < HEAD_CLASSES).sum().float().clamp(min=1)
    return labels, options


def _scored_inputs(normalized):
    """Class indices (5% of the rows positive, the rest background) with their IoU scores (VFL, as
    RT-DETR, with the positives as a device normalizer; QFL, as mmdet)."""

    def inputs(case, generator, device):
        rows, width = case.shape
        positive = torch.rand(rows, generator=generator) < 0.05
        labels = torch.where(positive, torch.randint(0, width, (rows,), generator=generator), width).to(device)
        options = {"scores": (torch.rand(rows, generator=generator) * positive).to(device)}
        if normalized:
            options["normalizer"] = positive.sum().float().clamp(min=1).to(device)
        return labels, options

    return inputs


def _distance_inputs(case, generator, device):
    """Distances in [0, n - 0.01], as the YOLO heads clamp them."""
    return (torch.rand(case.shape[0], generator=generator) * (case.shape[1] - 1.01)).to(device), {}


def _row_target_bytes(per_row):
    """The class-index kernel's bytes: the logits read, the gradient written ('mean'), ``per_row``
    bytes of targets a row (an int64 index and a float32 weight or score; a float32 distance)."""

    def ideal(case):
        x = case.dtype.itemsize
        logit_bytes = sigmoid_focal_index_bytes_per_element(
            x, case.reduction != "none", write_grad=case.mode == "fwd_bwd"
        )
        return _with_grad_output(case, case.elements * logit_bytes + case.rows * per_row, case.elements)

    return ideal


def _head_queries(quick):
    """(8 Q, 80) logits: B = 8 images of Q queries or anchors (FAMILY_QUERIES)."""
    return [(8 * queries, HEAD_CLASSES) for queries in FAMILY_QUERIES[: 2 if quick else 3]]


def _dfl_sides(quick):
    """(4 sides x 8400 anchors x 8 images, bins) of each of DFL_BINS."""
    return [(4 * 8400 * 8, bins) for bins in DFL_BINS]


def _family_label(case):
    return f"{case.loss} C={case.shape[1]} {case.dtype_name}"


def _index_targets(dtype, quick):
    return ("index",)


SERIES = {
    series.name: series
    for series in (
        Series(
            name="sigmoid",
            ours=focal_triton.sigmoid_focal_loss,
            eager=torchvision_on_any_targets,
            reference=reference.sigmoid_focal_loss,
            kernel="sigmoid_focal_fwd",
            targets=_binary_targets,
            reductions=("mean", "none"),
            shapes=lambda requested, quick: [(n,) for n in (requested or sweep(quick))],
            cpu_shapes=((1 << 12,),),
            inputs=_binary_inputs,
            ideal_bytes=_binary_bytes,
            label=lambda case: f"sigmoid {case.dtype_name}/{case.target}",
            flat=True,
        ),
        Series(
            name="softmax",
            ours=focal_triton.softmax_focal_loss,
            eager=baselines.eager_softmax_focal_loss,
            reference=reference.softmax_focal_loss,
            kernel="softmax_focal_fwd",
            targets=_index_targets,
            reductions=("mean", "none"),
            shapes=_softmax_shapes,
            cpu_shapes=((512, 2), (64, 80), (2, 5000), (2, SEGMENTATION_CLASSES, 8, 8)),
            inputs=_softmax_inputs,
            ideal_bytes=_softmax_bytes,
            label=_softmax_label,
        ),
        Series(  # mmdet's FocalLoss with weight and avg_factor
            name="head",
            ours=focal_triton.sigmoid_focal_loss,
            eager=baselines.eager_head_focal_loss,
            reference=reference.sigmoid_focal_loss,
            kernel="sigmoid_focal_index_fwd",
            targets=_index_targets,
            reductions=("mean",),
            shapes=_rows_of(HEAD_CLASSES),
            cpu_shapes=((64, HEAD_CLASSES),),
            inputs=_head_inputs,
            ideal_bytes=_row_target_bytes(8 + 4),
            label=lambda case: f"head C={case.shape[1]} {case.dtype_name} weighted",
        ),
        Series(  # RT-DETR's call: the weight detached, normalised by the boxes
            name="varifocal",
            ours=functools.partial(focal_triton.varifocal_loss, detach_weight=True),
            eager=baselines.eager_varifocal_loss,
            reference=reference.varifocal_loss,
            kernel="sigmoid_focal_index_fwd",
            targets=_index_targets,
            reductions=("mean",),
            shapes=_family_shapes(HEAD_CLASSES, _head_queries),
            cpu_shapes=((64, HEAD_CLASSES),),
            inputs=_scored_inputs(normalized=True),
            ideal_bytes=_row_target_bytes(8 + 4),
            label=_family_label,
            check_options={"detach_weight": True},
        ),
        Series(  # DEIM's call: normalised by the boxes
            name="matchability_aware",
            ours=focal_triton.matchability_aware_loss,
            eager=baselines.eager_matchability_aware_loss,
            reference=reference.matchability_aware_loss,
            kernel="sigmoid_focal_index_fwd",
            targets=_index_targets,
            reductions=("mean",),
            shapes=_family_shapes(HEAD_CLASSES, _head_queries),
            cpu_shapes=((64, HEAD_CLASSES),),
            inputs=_scored_inputs(normalized=True),
            ideal_bytes=_row_target_bytes(8 + 4),
            label=_family_label,
        ),
        Series(  # RF-DETR's call: normalised by the boxes
            name="ia_bce",
            ours=focal_triton.ia_bce_loss,
            eager=baselines.eager_ia_bce_loss,
            reference=reference.ia_bce_loss,
            kernel="sigmoid_focal_index_fwd",
            targets=_index_targets,
            reductions=("mean",),
            shapes=_family_shapes(HEAD_CLASSES, _head_queries),
            cpu_shapes=((64, HEAD_CLASSES),),
            inputs=_scored_inputs(normalized=True),
            ideal_bytes=_row_target_bytes(8 + 4),
            label=_family_label,
        ),
        Series(
            name="quality_focal",
            ours=focal_triton.quality_focal_loss,
            eager=baselines.eager_quality_focal_loss,
            reference=reference.quality_focal_loss,
            kernel="sigmoid_focal_index_fwd",
            targets=_index_targets,
            reductions=("mean",),
            shapes=_family_shapes(HEAD_CLASSES, _head_queries),
            cpu_shapes=((64, HEAD_CLASSES),),
            inputs=_scored_inputs(normalized=False),
            ideal_bytes=_row_target_bytes(8 + 4),
            label=_family_label,
        ),
        Series(
            name="distribution_focal",
            ours=focal_triton.distribution_focal_loss,
            eager=baselines.eager_distribution_focal_loss,
            reference=reference.distribution_focal_loss,
            kernel="distribution_focal",
            targets=lambda dtype, quick: ("distance",),
            reductions=("mean",),
            shapes=_family_shapes(DFL_BINS[-1], _dfl_sides),
            cpu_shapes=((256, 17),),
            inputs=_distance_inputs,
            ideal_bytes=_row_target_bytes(4),
            label=_family_label,
        ),
    )
}


def ideal_bytes(case):
    """Bytes an ideal kernel must move, from the model next to each kernel: logits and targets read
    once (softmax rows of any length too), the loss written for 'none', the gradient written for
    fwd_bwd, and grad_output read by the backward of 'none'."""
    return SERIES[case.loss].ideal_bytes(case)


def sizes_for(loss, quick, on_gpu, requested=None):
    """Shapes of the sweep: requested sizes (elements), or the series' own; without a GPU, one small
    shape per kind (the interpreter is a smoke run)."""
    series = SERIES[loss]
    if not on_gpu and not requested:
        return list(series.cpu_shapes)
    return series.shapes(requested, quick)


def make_cases(losses, dtypes, modes, quick, on_gpu, requested_sizes):
    cases = []
    for loss in losses:
        series = SERIES[loss]
        for dtype in dtypes:
            for target in series.targets(dtype, quick):
                for mode in modes:
                    for reduction in series.reductions:
                        for shape in sizes_for(loss, quick, on_gpu, requested_sizes):
                            cases.append(Case(loss, dtype, target, mode, reduction, shape))
    return cases


def make_inputs(case, device):
    """(logits, targets, options): every provider reads the same targets (in the dtype of the case)
    and the same options (the head's weight and normalizer, the scores)."""
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(case.shape, generator=generator) * 3).to(case.dtype).to(device)
    return x, *SERIES[case.loss].inputs(case, generator, device)


def loss_functions(case, compiled_cache):
    """provider -> f(x, t, reduction=..., **options) for this case."""
    series = SERIES[case.loss]
    if series.eager not in compiled_cache:
        compiled_cache[series.eager] = torch.compile(series.eager, dynamic=False)
    return {"focal_triton": series.ours, "eager": series.eager, "compile": compiled_cache[series.eager]}


def step_function(fn, x, t, options, case, grad_output):
    """The timed step: forward (no grad) or forward + backward."""
    reduction = case.reduction

    def forward():
        with torch.no_grad():
            return fn(x, t, reduction=reduction, **options)

    def forward_backward():
        loss = fn(x, t, reduction=reduction, **options)
        loss.backward(grad_output if reduction == "none" else None)

    return forward if case.mode == "fwd" else forward_backward


CHECK_ELEMENTS = 1 << 20  # the check runs on a prefix of the data this long


def _prefix(tensor, case):
    if SERIES[case.loss].flat:
        return tensor.reshape(-1)[:CHECK_ELEMENTS]
    return tensor[: max(CHECK_ELEMENTS // (case.elements // case.shape[0]), 1)]


def check_against_reference(fn, case, x, t, options):
    """Max difference of loss (relative to 1 + |loss|) and gradient from the eager reference
    run in float64, on a prefix of the data ('none': the options but the normalizer)."""
    series = SERIES[case.loss]
    reduction = "none"
    x, t = _prefix(x, case), _prefix(t, case)
    options = {name: _prefix(value, case) for name, value in options.items() if name != "normalizer"}
    leaf = x.detach().clone().requires_grad_()
    loss = fn(leaf, t, reduction=reduction, **options)
    loss.sum().backward()
    ref_leaf = x.detach().double().requires_grad_()
    expected = series.reference(ref_leaf, t, reduction=reduction, **options, **series.check_options)
    expected.sum().backward()
    scale = 1 + expected.detach().abs()
    loss_error = ((loss.double() - expected.detach()).abs() / scale).max().item()
    grad_error = (leaf.grad.double() - ref_leaf.grad).abs().max().item()
    return max(loss_error, grad_error)


def time_ms(step, x, on_gpu):
    """(median milliseconds of ``step``, the timer that ran): CUDA graphs where capture works,
    else do_bench; on the CPU the wall clock.  ``x`` (or None) has its gradient reset between runs."""
    reset = [x] if x is not None else None
    if on_gpu:
        try:
            return triton.testing.do_bench_cudagraph(step, grad_to_none=reset, return_mode="median"), "cudagraph"
        except Exception:  # noqa: BLE001 - a step that cannot be captured is timed without graphs
            torch.cuda.synchronize()
            return triton.testing.do_bench(step, grad_to_none=reset, return_mode="median"), "do_bench"
    times = []
    for _ in range(3):
        if x is not None:
            x.grad = None
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[1], "wall clock"


def peak_memory(step, x, on_gpu):
    """Bytes allocated above the starting point during one step, forward or forward + backward
    (GPU only: the CPU has no allocator statistics)."""
    if not on_gpu:
        return float("nan")
    x.grad = None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    step()
    torch.cuda.synchronize()
    x.grad = None
    return torch.cuda.max_memory_allocated() - base


def copy_bandwidth(on_gpu):
    """GB/s of a device-to-device clone (bytes read + written), the roofline of the plots."""
    if not on_gpu:
        return float("nan")
    source = torch.empty(1 << 28, dtype=torch.float32, device="cuda")
    ms, _ = time_ms(lambda: source.clone(), None, on_gpu)  # the same timer as the kernels
    return 2 * source.numel() * 4 / ms / 1e6


def run_case(case, providers, device, on_gpu, copy_gbps, compiled_cache, environment):
    x, t, options = make_inputs(case, device)
    functions = loss_functions(case, compiled_cache)
    grad_output = None
    rows = []
    for provider in providers:
        fn = functions[provider]
        try:
            error = check_against_reference(fn, case, x, t, options)
            leaf = x.detach().clone().requires_grad_(case.mode == "fwd_bwd")
            if case.reduction == "none" and grad_output is None:
                grad_output = torch.randn_like(fn(x, t, reduction="none", **options))
            step = step_function(fn, leaf, t, options, case, grad_output)
            with tuning.recording_launches() as launches:  # the config of the timed launches
                ms, timer = time_ms(step, leaf, on_gpu)
            memory = peak_memory(step, leaf, on_gpu)
            note = "" if on_gpu else CPU_LABEL
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            error, ms, memory, note, launches, timer = float("nan"), float("nan"), float("nan"), "out of memory", {}, ""
        gbps = ideal_bytes(case) / ms / 1e6
        rows.append(
            {
                **environment,
                "loss": case.loss,
                "series": case.series,
                "dtype": str(case.dtype).replace("torch.", ""),
                "target": case.target,
                "mode": case.mode,
                "reduction": case.reduction,
                "shape": "x".join(map(str, case.shape)),
                "elements": case.elements,
                "provider": provider,
                "time_ms": ms,
                "timer": timer,
                "ideal_bytes": ideal_bytes(case),
                "gbps": gbps,
                "copy_gbps": copy_gbps,
                "fraction_of_copy": gbps / copy_gbps,
                "peak_memory_bytes": memory,
                "max_error_vs_reference": error,
                "config": tuning.describe(launches[kernel]) if (kernel := SERIES[case.loss].kernel) in launches else "",
                "note": note,
            }
        )
    for row in rows:
        for baseline in ("eager", "compile"):
            base = next((r["time_ms"] for r in rows if r["provider"] == baseline), float("nan"))
            row[f"speedup_vs_{baseline}"] = base / row["time_ms"]
    return rows


def fits_in_memory(case, on_gpu):
    """Leave room for the eager baseline's intermediates (about 40 bytes per element kept)."""
    if not on_gpu:
        return True
    free, _ = torch.cuda.mem_get_info()
    return case.elements * (case.dtype.itemsize * 12 + 48) < free


COLUMNS = {  # name -> (type, meaning); written to results.json beside results.csv
    "device": (str, "GPU name, or CPU for an interpreter smoke run"),
    "torch": (str, "torch version"),
    "triton": (str, "triton version"),
    "loss": (
        str,
        "sigmoid | softmax | head (a RetinaNet head call: (anchors, 80) logits, class indices, "
        "per-anchor weight, normalizer = positives on the device) | varifocal (RT-DETR's call) | "
        "quality_focal | distribution_focal",
    ),
    "series": (str, "the plot line: everything but the size"),
    "dtype": (str, "logits dtype"),
    "target": (
        str,
        "float | uint8 (same-shape targets) | index (class indices; with scores for VFL / QFL) | distance (DFL)",
    ),
    "mode": (str, "fwd (no grad) | fwd_bwd (forward + backward)"),
    "reduction": (str, "mean | none (backward with a random grad_output)"),
    "shape": (str, "logits shape, dims joined by x"),
    "elements": (int, "logits"),
    "provider": (str, "focal_triton | eager (the reference formula) | compile (torch.compile of it)"),
    "time_ms": (float, "median milliseconds of one step"),
    "timer": (str, "cudagraph (triton.testing.do_bench_cudagraph), do_bench (capture failed) or wall clock (CPU)"),
    "ideal_bytes": (int, "bytes an ideal kernel must move (see bytes_model)"),
    "gbps": (float, "ideal_bytes / time"),
    "copy_gbps": (float, "device-to-device clone bandwidth (read + write) measured in the same run"),
    "fraction_of_copy": (float, "gbps / copy_gbps"),
    "peak_memory_bytes": (float, "torch.cuda.max_memory_allocated above the start of one step (GPU only)"),
    "max_error_vs_reference": (
        float,
        "max |loss - float64 reference| / (1 + |reference|) and max gradient difference, on a prefix of the data",
    ),
    "config": (str, "focal_triton's launch configuration"),
    "note": (str, "CPU label or out of memory"),
    "speedup_vs_eager": (float, "eager time / this time"),
    "speedup_vs_compile": (float, "torch.compile time / this time"),
}
BYTES_MODEL = (
    "gbps = ideal_bytes / time: the bytes an ideal kernel must move (logits and targets read once, long "
    "softmax rows too, the loss written for 'none', grad_output read for 'none' and the gradient written "
    "for fwd_bwd; the head series also reads an int64 index and a float32 weight per anchor). A design "
    "that writes the gradient in the forward, as focal_triton does, moves more for "
    "'none' with a per-element grad_output (the backward reads the gradient and grad_output and writes a "
    "new gradient): its ceiling there is ideal / actual, 20/28 = 71% of copy for fp32 logits and targets"
)


def strict_json(value):
    """``value`` with every NaN or infinite float as None (JSON null): JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def write_results(rows, out_dir, metadata):
    """``results.csv`` (plain CSV, one header line) and ``results.json`` (the run, the columns'
    meaning and the bytes model) under ``out_dir``; returns the CSV's path."""
    csv_path = os.path.join(out_dir, "results.csv")
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    sidecar = {**metadata, "bytes_model": BYTES_MODEL, "columns": {k: doc for k, (_, doc) in COLUMNS.items()}}
    with open(os.path.join(out_dir, "results.json"), "w") as handle:
        json.dump(strict_json(sidecar), handle, indent=1, allow_nan=False)
        handle.write("\n")
    return csv_path


def read_results(csv_path):
    """Rows of a results CSV with numbers as numbers (empty cells of number columns as NaN)."""
    with open(csv_path, newline="") as handle:
        return [
            {
                k: kind(v) if v != "" or kind is str else float("nan")
                for k, v in row.items()
                for kind in (COLUMNS.get(k, (str,))[0],)
            }
            for row in csv.DictReader(handle)
        ]


def plot_results(csv_path, out_dir=None):
    """Plots of a saved run, named after the CSV (``X-results.csv`` -> ``X-bandwidth.png``, ...),
    labelled as a CPU run when its sidecar says so; returns the paths written."""
    stem = os.path.splitext(os.path.basename(csv_path))[0]
    sidecar = os.path.splitext(csv_path)[0] + ".json"
    note = json.load(open(sidecar)).get("note", "") if os.path.exists(sidecar) else ""
    out_dir = out_dir or os.path.dirname(os.path.abspath(csv_path))
    os.makedirs(out_dir, exist_ok=True)
    return write_plots(read_results(csv_path), out_dir, note or None, prefix=stem.removesuffix("results"))


def print_summary(rows, on_gpu):
    """One line per series and provider, at the series' largest size."""
    if not on_gpu:
        print(f"\n*** {CPU_LABEL}: a smoke run of the whole pipeline; times are the interpreter's ***")
    columns = [("series", 44, "s"), ("shape", 12, "s"), ("provider", 13, "s"), ("time_ms", 9, ".3f")]
    if on_gpu:
        columns += [("gbps", 8, ".1f"), ("fraction_of_copy", 8, ".0%")]
    ran = {row["provider"] for row in rows}  # a speed-up over a baseline that did not run is left out
    columns += [(f"speedup_vs_{base}", width, ".2f") for base, width in (("eager", 8), ("compile", 10)) if base in ran]
    titles = {
        "time_ms": "time ms",
        "gbps": "GB/s",
        "fraction_of_copy": "of copy",
        "speedup_vs_eager": "x eager",
        "speedup_vs_compile": "x compile",
    }
    print(" ".join(f"{titles.get(name, name):{'<' if f == 's' else '>'}{width}}" for name, width, f in columns))
    largest = {}
    for row in rows:
        key = (row["series"], row["provider"])
        if row["time_ms"] == row["time_ms"] and row["elements"] >= largest.get(key, {"elements": -1})["elements"]:
            largest[key] = row
    for row in largest.values():
        print(" ".join(f"{row[name]:{'<' if f == 's' else '>'}{width}{f}}" for name, width, f in columns))


def run(args):
    on_gpu = torch.cuda.is_available()
    device = "cuda" if on_gpu else "cpu"
    quick = args.quick or not on_gpu
    if hasattr(torch._dynamo.config, "recompile_limit"):
        torch._dynamo.config.recompile_limit = 256
    torch._dynamo.config.cache_size_limit = 256
    losses = args.loss
    dtype_names = args.dtype or (list(DTYPES) if on_gpu else ["float32"])  # the CPU run is a smoke run
    dtypes, modes, requested, providers = [DTYPES[d] for d in dtype_names], args.mode, args.sizes, args.providers
    cases = [c for c in make_cases(losses, dtypes, modes, quick, on_gpu, requested) if fits_in_memory(c, on_gpu)]
    environment = {
        "device": torch.cuda.get_device_name() if on_gpu else f"CPU ({platform.processor() or platform.machine()})",
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    copy_gbps = copy_bandwidth(on_gpu)
    os.makedirs(args.out, exist_ok=True)
    rows, compiled_cache, progress = [], {}, Progress(len(cases))
    for case in cases:
        rows += run_case(case, providers, device, on_gpu, copy_gbps, compiled_cache, environment)
        progress.advance(f"{case.series} {case.shape}")
    metadata = {
        "tool": "focal-triton bench",
        "arguments": {k: v for k, v in vars(args).items() if k not in ("handler", "parser")},
        **environment,
        "copy_gbps": copy_gbps,
        "note": "" if on_gpu else CPU_LABEL,
    }
    csv_path = write_results(rows, args.out, metadata)
    plots = write_plots(rows, args.out, None if on_gpu else CPU_LABEL)
    print_summary(rows, on_gpu)
    print(
        f"\nwrote {csv_path}, results.json and {', '.join(os.path.basename(p) for p in plots)} "
        f"({len(rows)} measurements)"
    )
    return rows
