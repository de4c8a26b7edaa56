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
from dataclasses import dataclass

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
KERNEL_OF = {
    "sigmoid": "sigmoid_focal_fwd",
    "softmax": "softmax_focal_fwd",
    "head": "sigmoid_focal_index_fwd",
    "varifocal": "sigmoid_focal_index_fwd",
    "quality_focal": "sigmoid_focal_index_fwd",
    "distribution_focal": "distribution_focal",
}  # whose launch config a row reports
# The focal family at detection-head shapes: B = 8 images x Q queries / anchors of C = 80 classes
# (RT-DETR's 300 queries, YOLO's 8400 anchors, a dense head's 100000), and DFL over 4 box sides x
# 8400 anchors x B of 16 / 17 bins.
FAMILY = ("varifocal", "quality_focal", "distribution_focal")
FAMILY_QUERIES = (300, 8400, 100000)
DFL_BINS = (16, 17)


@dataclass
class Case:
    loss: str  # "sigmoid" | "softmax" | "head" (RetinaNet: class indices, per-anchor weight, normalizer) | FAMILY
    dtype: torch.dtype
    target: str  # "float" | "uint8" | "index"
    mode: str  # "fwd" | "fwd_bwd"
    reduction: str  # "mean" | "none"
    shape: tuple

    @property
    def elements(self):
        return math.prod(self.shape)

    @property
    def classes(self):
        return 1 if self.loss == "sigmoid" else self.shape[1]

    @property
    def series(self):
        """The plot line this point belongs to (everything but the size)."""
        dtype = str(self.dtype).replace("torch.", "")
        if self.loss == "softmax":
            layout = f"(B,{self.shape[1]},H,W)" if len(self.shape) == 4 else f"C={self.shape[1]}"
            return f"softmax {layout} {dtype} {self.mode} {self.reduction}"
        if self.loss == "head":
            return f"head C={self.shape[1]} {dtype} weighted {self.mode} {self.reduction}"
        if self.loss in FAMILY:
            return f"{self.loss} C={self.shape[1]} {dtype} {self.mode} {self.reduction}"
        return f"sigmoid {dtype}/{self.target} {self.mode} {self.reduction}"


def ideal_bytes(case):
    """Bytes an ideal kernel must move, from the model next to each kernel: logits and
    targets read once (softmax rows of any length too), the loss written for 'none', the
    gradient written for fwd_bwd, and grad_output read by the backward of 'none'."""
    x, grad = case.dtype.itemsize, case.mode == "fwd_bwd"
    reduce = case.reduction != "none"
    if case.loss == "sigmoid":
        positions = case.elements
        total = positions * sigmoid_focal_bytes_per_element(x, 1 if case.target == "uint8" else x, reduce, grad)
    elif case.loss in ("head", "varifocal", "quality_focal", "distribution_focal"):
        # per row: head an int64 class index and a float32 weight, VFL / QFL an index and a float32
        # score, DFL a float32 distance; the logits read once, the gradient written once ('mean' only)
        positions = case.elements // case.classes
        logit_bytes = sigmoid_focal_index_bytes_per_element(x, reduce, write_grad=grad)
        total = case.elements * logit_bytes + positions * {"distribution_focal": 4}.get(case.loss, 8 + 4)
        positions = case.elements  # the 'none' loss and its grad_output are per logit
    else:
        positions = case.elements // case.classes
        # one read of the logits whatever the row length (as quack counts): an ideal kernel keeps
        # a long row on chip; focal_triton's online softmax reads it twice today
        total = case.elements * softmax_focal_bytes_per_element(x, True, grad) + positions * 8  # int64 index
        total += 0 if reduce else x * positions  # the loss written
    if grad and not reduce:
        total += x * positions  # grad_output read
    return total


CPU_SMOKE_SHAPES = {
    "sigmoid": [(1 << 12,)],
    "softmax": [(512, 2), (64, 80), (2, 5000), (2, SEGMENTATION_CLASSES, 8, 8)],
    "head": [(64, HEAD_CLASSES)],
    "varifocal": [(64, HEAD_CLASSES)],
    "quality_focal": [(64, HEAD_CLASSES)],
    "distribution_focal": [(256, 17)],
}


def family_shapes(loss, quick, requested):
    """The family's detection-head shapes (B = 8): (8 Q, 80) logits for VFL / QFL, (4 x 8400 x 8, bins)
    for DFL; requested sizes (elements) give (elements / 80, 80) or (elements / 17, 17)."""
    if requested:
        width = DFL_BINS[-1] if loss == "distribution_focal" else HEAD_CLASSES
        return [(n // width, width) for n in requested if n >= width]
    if loss == "distribution_focal":
        return [(4 * 8400 * 8, bins) for bins in DFL_BINS]
    return [(8 * queries, HEAD_CLASSES) for queries in (FAMILY_QUERIES[:2] if quick else FAMILY_QUERIES)]


def sizes_for(loss, quick, on_gpu, requested=None):
    """Shapes of the sweep: requested sizes (elements), or 2^12..2^28 (binary) / C x rows (softmax);
    without a GPU, one small shape per kind (``CPU_SMOKE_SHAPES``: the interpreter is a smoke run)."""
    if not on_gpu and not requested:
        return CPU_SMOKE_SHAPES[loss]
    if requested:
        elements = requested
    elif loss == "softmax" and quick:
        elements = [1 << 20, 1 << 24, 1 << 26]
    else:
        elements = [1 << e for e in (range(12, 27, 2) if quick else range(12, 29))]
    if loss == "sigmoid":
        return [(n,) for n in elements]
    if loss == "head":
        return [(n // HEAD_CLASSES, HEAD_CLASSES) for n in elements if n >= HEAD_CLASSES]
    if loss in FAMILY:
        return family_shapes(loss, quick, requested)
    shapes = []
    for classes in SOFTMAX_CLASSES:
        shapes += [(max(n // classes, 1), classes) for n in elements if n >= classes]
    for n in elements:
        side = int(math.sqrt(n / (8 * SEGMENTATION_CLASSES)))
        if side >= 8:
            shapes.append((8, SEGMENTATION_CLASSES, side, side))
    return shapes


def make_cases(losses, dtypes, modes, quick, on_gpu, requested_sizes):
    cases = []
    for loss in losses:
        for dtype in dtypes:
            targets = {"sigmoid": ("float", "uint8"), "distribution_focal": ("distance",)}.get(loss, ("index",))
            reductions = ("mean",) if loss in ("head", *FAMILY) else ("mean", "none")  # head calls normalise
            if loss == "sigmoid" and quick:  # the headline pairs: fp32/fp32, bf16/uint8, fp16/fp16
                targets = ("uint8",) if dtype == torch.bfloat16 else ("float",)
            for target in targets:
                for mode in modes:
                    for reduction in reductions:
                        for shape in sizes_for(loss, quick, on_gpu, requested_sizes):
                            cases.append(Case(loss, dtype, target, mode, reduction, shape))
    return cases


def make_inputs(case, device):
    """(logits, targets, options): every provider reads the same targets (in the dtype of the case)
    and the same options (the head's weight and normalizer)."""
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(case.shape, generator=generator) * 3).to(case.dtype).to(device)
    if case.loss == "sigmoid":
        labels = torch.rand(case.shape, generator=generator) < 0.1
        return x, (labels.to(torch.uint8) if case.target == "uint8" else labels.to(case.dtype)).to(device), {}
    if case.loss in FAMILY:
        return x, *family_targets(case, generator, device)
    if case.loss == "head":
        anchors = case.shape[0]
        positive = torch.rand(anchors, generator=generator) < HEAD_POSITIVES
        labels = torch.where(positive, torch.randint(0, HEAD_CLASSES, (anchors,), generator=generator), HEAD_CLASSES)
        weight = (torch.rand(anchors, 1, generator=generator) > 0.05).float()  # mmdet's label weights: 0 = ignored
        labels, weight = labels.to(device), weight.to(device)
        options = {"weight": weight}
        if case.reduction == "mean":
            options["normalizer"] = (labels < HEAD_CLASSES).sum().float().clamp(min=1)  # on the device, no sync
        return x, labels, options
    return x, torch.randint(0, case.shape[1], (case.shape[0], *case.shape[2:]), generator=generator).to(device), {}


def family_targets(case, generator, device):
    """(targets, options) of a family case: class indices (5% of the rows positive, the rest background)
    with their IoU scores and the positives as a device normalizer (VFL, as RT-DETR; QFL, as mmdet),
    or distances in [0, n - 0.01] (DFL, as the YOLO heads clamp them)."""
    rows, width = case.shape
    if case.loss == "distribution_focal":
        return (torch.rand(rows, generator=generator) * (width - 1.01)).to(device), {}
    positive = torch.rand(rows, generator=generator) < 0.05
    labels = torch.where(positive, torch.randint(0, width, (rows,), generator=generator), width).to(device)
    options = {"scores": (torch.rand(rows, generator=generator) * positive).to(device)}
    if case.loss == "varifocal":
        options["normalizer"] = positive.sum().float().clamp(min=1).to(device)
    return labels, options


def torchvision_on_any_targets(inputs, targets, **options):
    """torchvision's formula, casting the targets to the logits' dtype inside the function, so that
    eager and torch.compile read the uint8 labels focal_triton reads (compile fuses the cast)."""
    return baselines.torchvision_sigmoid_focal_loss(inputs, targets.to(inputs.dtype), **options)


def loss_functions(case, compiled_cache):
    """provider -> f(x, t, reduction=..., **options) for this case: the eager baselines are
    torchvision's formula (binary), the usual log_softmax / gather / pow formula (softmax) and
    mmdet's FocalLoss with weight and avg_factor (head)."""
    if case.loss == "sigmoid":
        ours, eager = focal_triton.sigmoid_focal_loss, torchvision_on_any_targets
    elif case.loss == "head":
        ours, eager = focal_triton.sigmoid_focal_loss, baselines.eager_head_focal_loss
    elif case.loss == "varifocal":  # RT-DETR's call: the weight detached, normalised by the boxes
        ours, eager = functools.partial(focal_triton.varifocal_loss, detach_weight=True), baselines.eager_varifocal_loss
    elif case.loss == "quality_focal":
        ours, eager = focal_triton.quality_focal_loss, baselines.eager_quality_focal_loss
    elif case.loss == "distribution_focal":
        ours, eager = focal_triton.distribution_focal_loss, baselines.eager_distribution_focal_loss
    else:
        ours, eager = focal_triton.softmax_focal_loss, baselines.eager_softmax_focal_loss
    if eager not in compiled_cache:
        compiled_cache[eager] = torch.compile(eager, dynamic=False)
    return {"focal_triton": ours, "eager": eager, "compile": compiled_cache[eager]}


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
REFERENCE_OF = {
    "softmax": reference.softmax_focal_loss,
    "varifocal": reference.varifocal_loss,
    "quality_focal": reference.quality_focal_loss,
    "distribution_focal": reference.distribution_focal_loss,
}  # the sigmoid losses: sigmoid_focal_loss


def _prefix(tensor, case):
    if case.loss == "sigmoid":
        return tensor.reshape(-1)[:CHECK_ELEMENTS]
    return tensor[: max(CHECK_ELEMENTS // (case.elements // case.shape[0]), 1)]


def check_against_reference(fn, case, x, t, options):
    """Max difference of loss (relative to 1 + |loss|) and gradient from the eager reference
    run in float64, on a prefix of the data ('none': the options but the normalizer)."""
    reduction = "none"
    x, t = _prefix(x, case), _prefix(t, case)
    options = {name: _prefix(value, case) for name, value in options.items() if name != "normalizer"}
    leaf = x.detach().clone().requires_grad_()
    loss = fn(leaf, t, reduction=reduction, **options)
    loss.sum().backward()
    ref_leaf = x.detach().double().requires_grad_()
    ref_fn = REFERENCE_OF.get(case.loss, reference.sigmoid_focal_loss)
    if case.loss == "varifocal":
        options["detach_weight"] = True
    expected = ref_fn(ref_leaf, t, reduction=reduction, **options)
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
                "config": tuning.describe(launches[KERNEL_OF[case.loss]]) if KERNEL_OF[case.loss] in launches else "",
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
        json.dump(sidecar, handle, indent=1)
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
        "arguments": {k: v for k, v in vars(args).items() if k != "handler"},
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
