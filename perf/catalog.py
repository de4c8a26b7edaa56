"""Every kernel x dtype x shipped config that focal_triton launches, as AOT-compilable variants.

Each entry of ``ENTRIES`` is a public call at a modelled size.  Its kernel launches are captured
instead of run (``launches.captured_launches``), so a variant compiles exactly what the launcher
passes: pointer dtypes, constexprs (None for a missing operand) and the integers Triton
specialises (1, or 16-divisible).  Written here are only the call, the report's label, the case
id and, per kernel, the bytes model.  Adding a loss's row = one entry.

Used by ``focal-triton report`` and by the compile test.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from focal_triton.kernels.class_walk import tiles_unroll
from focal_triton.kernels.grad_scale import scale_grad_bytes_per_element
from focal_triton.kernels.reduce import count_kept_bytes_per_element
from focal_triton.kernels.sigmoid_focal import sigmoid_focal_bytes_per_element, sigmoid_focal_index_bytes_per_element
from focal_triton.kernels.softmax_focal import softmax_focal_bytes_per_element, softmax_focal_soft_bytes_per_element

import focal_triton as ft
from focal_triton.tuning import ELEMENTWISE_CONFIGS

from .aot import KernelVariant
from .launches import Config, Launch, captured_launches

SHORT_DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "uint8": "u8"}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "uint8": torch.uint8}

# The case ids tests/test_compiled_code.py holds ceilings for (the report's "case" field).
CASES = (
    "binary-bf16-u8-mean-g2",
    "binary-bf16-u8-mean-anyg",
    "binary-fp32-fp32-mean-g2",
    "binary-fp32-fp32-mean-anyg",
    "binary-fp16-fp16-mean-g2",
    *(
        f"{case}-{dtype}-mean"
        for dtype in ("fp32", "bf16")
        for case in (
            "index-c80",
            "varifocal-index-c80",
            "mal-index-c80",
            "iabce-index-c80",
            "vfl-stacked-c80",
            "qfl-index-c80",
            "softmax-rows-c80",
            "softmax-rows-c1000",
            "softmax-nchw-c21",
            "softmax-rows-c2",
            "smoothing-rows-c80",
            "dfl-17",
        )
    ),
)
# A kernel the autotuner launches has a row per candidate config; the case id goes to this one.
HEADLINE_CONFIG = ELEMENTWISE_CONFIGS[1]


# ----------------------------------------------------------------------------- the modelled inputs
# Uninitialised where the launchers only pass them on (nothing runs); targets, weights and scores
# the checks read on the host are valid values.
def logits(*shape: int, dtype: str, channels_last: bool = False) -> torch.Tensor:
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    return torch.empty(shape, dtype=DTYPES[dtype], memory_format=memory_format).requires_grad_()


def class_indices(*shape: int) -> torch.Tensor:
    return torch.zeros(shape, dtype=torch.int64)


BINARY_ELEMENTS = 1 << 24  # 16M elements: 2048 streams of 8 steps


def binary(x_dtype: str, t_dtype: str, reduction: str, gamma: float = 2.0) -> Callable[[], Any]:
    """The binary loss over 16M logits and labels (uint8) or soft targets (float)."""

    def call() -> Any:
        targets = torch.zeros(BINARY_ELEMENTS, dtype=DTYPES[t_dtype])
        return ft.sigmoid_focal_loss(logits(BINARY_ELEMENTS, dtype=x_dtype), targets, gamma=gamma, reduction=reduction)

    return call


def scaled_backward(dtype: str) -> Callable[[], Any]:
    """A backward with grad_output != 1: the fused gradient scaled in place."""

    def call() -> Any:
        (binary(dtype, dtype, "mean")() * 2).backward()

    return call


# Multiclass layouts the launchers meet: label -> (logits shape, channels_last).
LAYOUTS = {
    "rows C=80": ((1 << 20, 80), False),  # (N, C) detection scores
    "rows C=32000": ((4096, 32000), False),  # language-model vocabulary: online softmax
    "nchw C=21": ((8, 21, 512, 512), False),  # segmentation, classes strided
    "channels_last C=80": ((8, 80, 100, 100), True),
    "nchw C=19 2**27 pixels": ((1, 19, 1 << 14, 1 << 13), False),  # C * H * W > 2**31: 64-bit class offsets
    "rows C=1000": ((1 << 16, 1000), False),  # ImageNet classes: a row stride not 16-divisible
    "rows C=2": ((1 << 22, 2), False),  # a binary head as a softmax
}
CASE_OF_LAYOUT = {"rows C=80": "rows-c80", "rows C=1000": "rows-c1000", "rows C=2": "rows-c2", "nchw C=21": "nchw-c21"}


def over_classes(loss: Callable[..., Any], layout: str, dtype: str, **options: Any) -> Callable[[], Any]:
    """``loss(logits, class indices, reduction='mean', **options)`` over a layout of LAYOUTS;
    ``weight='per row'`` gives a float32 weight per row, broadcast over the classes."""

    def call() -> Any:
        shape, channels_last = LAYOUTS[layout]
        targets = class_indices(shape[0], *shape[2:])
        weight = {"weight": torch.ones(shape[0], 1)} if options.get("weight") == "per row" else {}
        x = logits(*shape, dtype=dtype, channels_last=channels_last)
        return loss(x, targets, reduction="mean", **{**options, **weight})

    return call


def scored(loss: Callable[..., Any], dtype: str, **options: Any) -> Callable[[], Any]:
    """A family loss over (N, 80) rows with class indices and float32 scores (mmdet's (label, score))."""

    def call() -> Any:
        rows = 1 << 20
        scores = torch.zeros(rows)
        return loss(logits(rows, 80, dtype=dtype), class_indices(rows), scores=scores, reduction="mean", **options)

    return call


def stacked_varifocal(dtype: str) -> Callable[[], Any]:
    """RT-DETR / D-FINE's VFL over its 6 + 1 decoder layers in one launch: (7, 8 x 500, 80) logits
    (batch 8, 300 queries + 200 denoising), one normalizer a layer."""

    def call() -> Any:
        layers, rows = 7, 8 * 500
        x = logits(layers, rows, 80, dtype=dtype)
        targets, scores = class_indices(layers, rows), torch.zeros(layers, rows)
        return ft.varifocal_loss(
            x, targets, scores=scores, reduction="mean", normalizer=torch.ones(layers), stacked=True
        )

    return call


def dense_varifocal(dtype: str) -> Callable[[], Any]:
    """The varifocal loss against dense soft targets of the logits' shape (the element-wise kernel)."""

    def call() -> Any:
        targets = torch.zeros(BINARY_ELEMENTS, dtype=DTYPES[dtype])
        return ft.varifocal_loss(logits(BINARY_ELEMENTS, dtype=dtype), targets, reduction="mean")

    return call


def distribution(dtype: str, bins: int = 17) -> Callable[[], Any]:
    """The distribution focal loss over (N, bins) rows, float32 distances."""

    def call() -> Any:
        rows = 1 << 20
        return ft.distribution_focal_loss(logits(rows, bins, dtype=dtype), torch.zeros(rows), reduction="mean")

    return call


def detr_matching(dtype: str) -> Any:
    """RT-DETR's matcher on a batch of 8: 300 queries, 80 classes, 100 targets an image, with boxes."""

    def call() -> Any:
        batch, queries, targets = 8, 300, 100
        x = torch.empty(batch, queries, 80, dtype=DTYPES[dtype])
        labels = torch.zeros(batch * targets, dtype=torch.int64)
        boxes, target_boxes = torch.empty(batch, queries, 4), torch.empty(batch * targets, 4)
        return ft.detr_matching_cost(x, labels, [targets] * batch, boxes=boxes, target_boxes=target_boxes)

    return call


def ignored_labels() -> Any:
    """Hard uint8 labels with an ignore_index: 'mean' counts the kept labels first."""
    targets = torch.zeros(BINARY_ELEMENTS, dtype=torch.uint8)
    return ft.sigmoid_focal_loss(logits(BINARY_ELEMENTS, dtype="bfloat16"), targets, reduction="mean", ignore_index=255)


# ----------------------------------------------------------------------------- the entries
@dataclass(frozen=True)
class Entry:
    """One row (a row per config where the autotuner chooses) of the report.

    label: the report's kernel name; call: the public call; kernel: which of its launches
    (the kernel's name; the first such launch); case: a case id of CASES, or "";
    every_config: a row for each of the autotuner's configs (else for HEADLINE_CONFIG only).
    """

    label: str
    call: Callable[[], Any]
    kernel: str
    case: str = ""
    every_config: bool = True


def _binary_entries(gamma: float, label: str, gamma_case: str, every_config: bool) -> Iterator[Entry]:
    for x_dtype, t_dtype in (("float32", "float32"), ("bfloat16", "uint8"), ("float16", "float16")):
        for reduction in ("mean", "none"):
            case = f"binary-{SHORT_DTYPES[x_dtype]}-{SHORT_DTYPES[t_dtype]}-mean-{gamma_case}"
            yield Entry(
                f"sigmoid_focal_fwd[{reduction}+grad{label}]",
                binary(x_dtype, t_dtype, reduction, gamma),
                "sigmoid_focal_fwd_kernel",
                case if reduction == "mean" else "",
                every_config,
            )


def _class_entries(dtype: str) -> Iterator[Entry]:
    short = SHORT_DTYPES[dtype]
    for layout in LAYOUTS:
        case = CASE_OF_LAYOUT.get(layout)
        strided = layout.startswith("nchw") or layout == "rows C=2"  # the small-C softmax serves these
        yield Entry(
            f"softmax_focal_{'small_c' if strided else 'fwd'}[{layout}, mean+grad]",
            over_classes(ft.softmax_focal_loss, layout, dtype),
            f"softmax_focal_{'small_c' if strided else 'fwd'}_kernel",
            f"softmax-{case}-{short}-mean" if case else "",
        )
        yield Entry(
            f"sigmoid_focal_index_fwd[{layout}, mean+grad]",
            over_classes(ft.sigmoid_focal_loss, layout, dtype),
            "sigmoid_focal_index_fwd_kernel",
            f"index-c80-{short}-mean" if layout == "rows C=80" else "",
        )


def _head_option_entries(dtype: str) -> Iterator[Entry]:
    """The calls detection heads make with options: a per-anchor weight and a device normalizer
    (RetinaNet / mmdet), and label smoothing (one tile at C = 80, three passes at C = 32000)."""
    short = SHORT_DTYPES[dtype]
    yield Entry(
        "sigmoid_focal_index_fwd[rows C=80, mean+grad, weighted]",
        over_classes(ft.sigmoid_focal_loss, "rows C=80", dtype, weight="per row", normalizer=torch.tensor(1000.0)),
        "sigmoid_focal_index_fwd_kernel",
    )
    for layout in ("rows C=80", "rows C=32000"):
        yield Entry(
            f"softmax_focal_soft[{layout}, mean+grad, label smoothing]",
            over_classes(ft.softmax_focal_loss, layout, dtype, label_smoothing=0.1),
            "softmax_focal_soft_kernel",
            f"smoothing-rows-c80-{short}-mean" if layout == "rows C=80" else "",
        )


def _family_entries(dtype: str) -> Iterator[Entry]:
    short = SHORT_DTYPES[dtype]
    yield Entry(
        "sigmoid_focal_fwd[varifocal, mean+grad]",
        dense_varifocal(dtype),
        "sigmoid_focal_fwd_kernel",
        every_config=False,
    )
    for name, loss, case in (
        ("varifocal", ft.varifocal_loss, "varifocal-index"),
        ("quality focal", ft.quality_focal_loss, "qfl-index"),
    ):
        yield Entry(
            f"sigmoid_focal_index_fwd[rows C=80, {name}, index+scores, mean+grad]",
            scored(loss, dtype),
            "sigmoid_focal_index_fwd_kernel",
            f"{case}-c80-{short}-mean",
        )
    yield Entry(
        "sigmoid_focal_index_fwd[stacked 7 x 4000 C=80, varifocal, index+scores, normalizer a set, mean+grad]",
        stacked_varifocal(dtype),
        "sigmoid_focal_index_fwd_kernel",
        f"vfl-stacked-c80-{short}-mean",
    )
    # DEIM's criterion default (gamma 2, the case) and its configs' gamma 1.5 (any gamma)
    for gamma, case in ((2.0, f"mal-index-c80-{short}-mean"), (1.5, "")):
        yield Entry(
            f"sigmoid_focal_index_fwd[rows C=80, matchability aware, gamma {gamma:g}, index+scores, mean+grad]",
            scored(ft.matchability_aware_loss, dtype, gamma=gamma),
            "sigmoid_focal_index_fwd_kernel",
            case,
        )
    yield Entry(  # RF-DETR's call: 'mean' over num_boxes
        "sigmoid_focal_index_fwd[rows C=80, ia-bce, index+scores, mean+grad]",
        scored(ft.ia_bce_loss, dtype, normalizer=torch.tensor(100.0)),
        "sigmoid_focal_index_fwd_kernel",
        f"iabce-index-c80-{short}-mean",
    )
    yield Entry(
        "softmax_focal_small_c[rows C=17, distribution focal, mean+grad]",
        distribution(dtype),
        "softmax_focal_small_c_kernel",
        f"dfl-17-{short}-mean",
    )


def entries() -> Iterator[Entry]:
    yield from _binary_entries(2.0, "", "g2", every_config=True)
    yield from _binary_entries(1.5, ", any gamma", "anyg", every_config=False)
    for dtype in ("float32", "bfloat16"):
        yield Entry("scale_grad", scaled_backward(dtype), "scale_grad_kernel")
    for dtype in ("float32", "bfloat16"):
        yield from _class_entries(dtype)
        yield from _head_option_entries(dtype)
        yield from _family_entries(dtype)
    for dtype in ("float32", "bfloat16"):
        yield Entry("detr_matching_cost[B=8, Q=300, T=100, boxes]", detr_matching(dtype), "detr_matching_cost_kernel")
    yield Entry("count_kept", over_classes(ft.softmax_focal_loss, "rows C=80", "float32"), "count_kept_kernel")
    yield Entry("count_kept", ignored_labels, "count_kept_kernel")
    yield Entry("sum_partials", binary("float32", "float32", "mean"), "sum_partials_kernel")


# ----------------------------------------------------------------------------- launch -> variant
def _itemsize(arguments: dict, name: str) -> int:
    tensor = arguments.get(name)
    return tensor.element_size() if tensor is not None else 0


def _per_row_operands(arguments: dict) -> float:
    """Bytes of a class walk's per-row operands (target, score, weight) over its row of C logits."""
    return sum(_itemsize(arguments, name) for name in ("t_ptr", "score_ptr", "weight_ptr")) / arguments["C"]


# Kernel -> the ideal bytes it moves per logit at a launch (the models beside the kernels).
BYTES_MODELS: dict[str, Callable[[dict], float]] = {
    "sigmoid_focal_fwd_kernel": lambda a: sigmoid_focal_bytes_per_element(
        _itemsize(a, "x_ptr"), _itemsize(a, "t_ptr"), a["REDUCE"], a["WRITE_GRAD"], _itemsize(a, "grad_ptr")
    ),
    "sigmoid_focal_index_fwd_kernel": lambda a: sigmoid_focal_index_bytes_per_element(
        _itemsize(a, "x_ptr"), a["REDUCE"], a["WRITE_GRAD"], operand_bytes=_per_row_operands(a)
    ),
    # the ideal for rows of any length: one read (on chip), the gradient written
    "softmax_focal_fwd_kernel": lambda a: softmax_focal_bytes_per_element(
        _itemsize(a, "x_ptr"), True, a["WRITE_GRAD"], target_bytes=_per_row_operands(a)
    ),
    "softmax_focal_small_c_kernel": lambda a: softmax_focal_bytes_per_element(
        _itemsize(a, "x_ptr"), True, a["WRITE_GRAD"], target_bytes=_per_row_operands(a)
    ),
    "softmax_focal_soft_kernel": lambda a: softmax_focal_soft_bytes_per_element(
        _itemsize(a, "x_ptr"), True, dense_bytes=_per_row_operands(a), write_grad=a["WRITE_GRAD"]
    ),
    "scale_grad_kernel": lambda a: scale_grad_bytes_per_element(_itemsize(a, "grad_ptr")),
    "count_kept_kernel": lambda a: count_kept_bytes_per_element(_itemsize(a, "t_ptr")),
    "sum_partials_kernel": lambda a: 0,  # one program over the per-program partials, not per element
    # a cost entry: its 4-byte write (each query's logits and box and each target's are gathered from L2)
    "detr_matching_cost_kernel": lambda a: 4,
}


def elements_per_program(arguments: dict) -> int:
    """Logits one program handles in a pass: the rows of a class walk times the logits of a row its
    static code covers (all C where its class tiles unroll or C is compiled in, one tile where they
    loop: a loop body counts once); BLOCK for an element-wise walk; 0 otherwise."""
    if "BLOCK_Q" in arguments:  # the matching cost: a block of queries x targets
        return arguments["BLOCK_Q"] * arguments["BLOCK_T"]
    if "BLOCK_S" in arguments:
        classes, block_c = arguments["C"], arguments.get("BLOCK_C")
        per_row = classes if block_c is None or tiles_unroll(classes, block_c) else min(classes, block_c)
        return arguments["BLOCK_S"] * per_row
    return arguments["BLOCK"] if "n" in arguments else 0


def _dtype_label(arguments: dict) -> str:
    """'x dtype/t dtype', or the dtype of the kernel's first tensor."""
    named = [arguments[name] for name in ("x_ptr", "t_ptr") if isinstance(arguments.get(name), torch.Tensor)]
    tensors = named or [value for value in arguments.values() if isinstance(value, torch.Tensor)][:1]
    return "/".join(str(tensor.dtype).removeprefix("torch.") for tensor in tensors)


def _argument_kind(param: Any, value: Any) -> str:
    """How Triton passes an argument: "pointer" (a tensor), "constexpr" (a constexpr parameter, None,
    and the integer 1, which Triton specialises unless told ``do_not_specialize``), "int" or
    "float"."""
    if isinstance(value, torch.Tensor):
        return "pointer"
    if param.is_constexpr or value is None or (type(value) is int and value == 1 and not param.do_not_specialize):
        return "constexpr"
    if type(value) in (int, float):
        return type(value).__name__
    raise TypeError(f"{param.name}: an argument of type {type(value).__name__} ({value!r}) is not modelled")


def variant(entry: Entry, launch: Launch, config: Config) -> KernelVariant:
    """The launch under ``config`` as an AOT variant."""
    arguments = {**launch.arguments, **config.meta}
    pointers, constexprs, ints, floats = {}, {}, {}, []
    for param in launch.kernel.params:
        value = arguments[param.name]
        kind = _argument_kind(param, value)
        if kind == "pointer":
            pointers[param.name] = str(value.dtype).removeprefix("torch.")
        elif kind == "constexpr":
            constexprs[param.name] = value
        elif kind == "int":
            ints[param.name] = value
        else:
            floats.append(param.name)
    headline = is_headline(launch, config) and entry.case in CASES
    return KernelVariant(
        name=entry.label,
        fn=launch.kernel,
        pointers=pointers,
        constexprs=constexprs,
        ints=ints,
        floats=tuple(floats),
        dtype=_dtype_label(arguments),
        bytes_per_element=BYTES_MODELS[launch.name](arguments),
        elements_per_program=elements_per_program(arguments),
        grid_stride="streams" in arguments,  # the element-wise kernel walks its streams in a loop
        case=entry.case if headline else "",
    )


def is_headline(launch: Launch, config: Config) -> bool:
    """The launch's one config, or HEADLINE_CONFIG among the autotuner's candidates."""
    return len(launch.configs) == 1 or (config.meta["BLOCK"], config.num_warps) == HEADLINE_CONFIG


def recorded(entry: Entry) -> Launch:
    """The first launch of ``entry.kernel`` its call makes."""
    with captured_launches() as launches:
        entry.call()
    found = [launch for launch in launches if launch.name == entry.kernel]
    if not found:
        names = [launch.name for launch in launches]
        raise LookupError(f"{entry.label}: the call launched {names}, not {entry.kernel}")
    return found[0]


def variants() -> Iterator[tuple[KernelVariant, int]]:
    """Yields (variant, num_warps) for every entry and config it launches with."""
    for entry in entries():
        launch = recorded(entry)
        for config in launch.configs:
            if entry.every_config or is_headline(launch, config):
                yield variant(entry, launch, config), config.num_warps
