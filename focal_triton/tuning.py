"""Every launch-configuration decision of focal_triton, and the interface the perf tools use.

What a launcher asks here:

- the element-wise kernel: ``ELEMENTWISE_CONFIGS`` (BLOCK, num_warps) searched by
  ``SIGMOID_AUTOTUNER`` (``triton.autotune`` keyed on a size bucket and the dtypes),
  or the entry of a shipped table (``elementwise_config``);
- the multiclass kernels: ``class_tile`` -> (BLOCK_S, BLOCK_C, num_warps), from a
  tile forced by ``forced_tile``, a shipped table, or the ``tile_shape`` heuristic;
  ``tile_candidates`` are the tiles ``focal-triton tune`` measures;
- the backward scale: one fixed ``SCALE_CONFIG``.

Shipped tables are ``focal_triton/configs/sm<major><minor>.json`` (kernel ->
``table_key`` -> config), written by ``focal-triton tune --save`` and used on that
architecture; ``FOCAL_TRITON_CONFIGS=0`` ignores them, ``FOCAL_TRITON_AUTOTUNE=0``
(and the Triton interpreter) use one config.

The perf tools use this module and the public API only: ``recording_launches``
tells which config each kernel launched with (nothing is recorded outside it),
``forced_tile`` runs a multiclass loss with a given tile, and the re-exported
``RowsLayout`` / ``rows_layout`` / ``rows_of_c`` / ``wide_class_offsets`` / ``grad_buffer_dtype``
describe what a launch sees.
"""

import contextlib
import contextvars
import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import triton

from focal_triton.kernels.class_walk import tiles_unroll
from focal_triton.kernels.sigmoid_focal import NEGATIVES_FIRST_CLASSES, sigmoid_focal_fwd_kernel

from ._backend import interpreter_enabled
from ._backend import kernel_path_on_cpu as _kernel_path_on_cpu
from ._dtypes import grad_buffer_dtype
from ._layout import RowsLayout, rows_layout, rows_of_c, wide_class_offsets
from ._reduction import COUNT_CONFIG, REDUCE_BLOCK

__all__ = [
    "COUNT_CONFIG",
    "ELEMENTWISE_CONFIGS",
    "MAX_SINGLE_TILE_CLASSES",
    "REDUCE_BLOCK",
    "SCALE_CONFIG",
    "SIGMOID_AUTOTUNER",
    "RowsLayout",
    "class_tile",
    "elementwise_config",
    "forced_tile",
    "grad_buffer_dtype",
    "layout_kind",
    "describe",
    "record_launch",
    "kernel_path_on_cpu",
    "recording_launches",
    "rows_layout",
    "shipped_config",
    "size_bucket",
    "table_key",
    "rows_of_c",
    "table_path",
    "tile_candidates",
    "tile_shape",
    "wide_class_offsets",
]

CONFIG_DIR = Path(__file__).parent / "configs"

# ----------------------------------------------------------------------------- element-wise kernel
# (BLOCK, num_warps) candidates.  Left out because they spill registers: BLOCK 4096
# with 4 warps, 8192 with 16 warps (sm_80), and 4096 with 8 warps (bf16/uint8 'none'
# on sm_90 with triton 3.6).
ELEMENTWISE_CONFIGS = ((1024, 4), (2048, 4), (2048, 8), (4096, 16))
ONE_CONFIG = ((1024, 4),)


def autotune_enabled() -> bool:
    """One config under the interpreter (tests stay fast) or with FOCAL_TRITON_AUTOTUNE=0."""
    return not interpreter_enabled() and os.environ.get("FOCAL_TRITON_AUTOTUNE", "1") != "0"


def size_bucket(n: int) -> int:
    """ceil(log2(n)): the autotune key, so a training loop tunes once per bucket, not per size."""
    return max(n - 1, 0).bit_length()


def _prune_to_size(configs: list, named_args: dict, **kwargs: Any) -> list:
    """Blocks larger than the tensor only idle lanes; keep them out of the search.  The
    autotuner passes positional arguments as ``named_args`` and keyword ones as ``kwargs``
    (the launchers launch by keyword)."""
    n = {**named_args, **kwargs}["n"]
    fitting = [c for c in configs if c.kwargs["BLOCK"] <= triton.next_power_of_2(n)]
    return fitting or configs[:1]


# The key is a size bucket (ceil(log2 n)); the autotuner adds the dtypes of the
# tensor arguments, so a training loop tunes once per bucket and dtype.
SIGMOID_AUTOTUNER = triton.autotune(
    configs=[
        triton.Config({"BLOCK": block}, num_warps=warps)
        for block, warps in (ELEMENTWISE_CONFIGS if autotune_enabled() else ONE_CONFIG)
    ],
    key=["size_bucket"],
    prune_configs_by={"early_config_prune": _prune_to_size},
)(sigmoid_focal_fwd_kernel)

# The backward scale is not autotuned: tuning an in-place kernel needs the autotuner's
# restore copies, torch writes that bump the version counter of the saved gradient,
# which a repeated backward (retain_graph, gradcheck) then rejects.  One fixed config:
# 8 elements per thread, 128-bit accesses.
SCALE_CONFIG = (2048, 8) if autotune_enabled() else ONE_CONFIG[0]


def elementwise_config(kernel_name: str, tensor: torch.Tensor, n: int, dtypes: tuple) -> tuple[int, int] | None:
    """(BLOCK, num_warps) of the shipped table for this kernel, size bucket and dtypes on the
    tensor's GPU, or None: the launcher then goes through the autotuner.  A table entry that
    is not one of ELEMENTWISE_CONFIGS (a table from another version) is not used: the partial
    sum buffers are sized for those only."""
    config = shipped_config(kernel_name, tensor, n, *dtypes)
    if config is None or (config["BLOCK"], config["num_warps"]) not in ELEMENTWISE_CONFIGS:
        return None
    return config["BLOCK"], config["num_warps"]


# ----------------------------------------------------------------------------- multiclass kernels
TILE = 4096  # logits per program tile
MAX_SINGLE_TILE_CLASSES = 4096  # softmax rows up to this many classes are read once

# Logits per thread of each multiclass kernel's heuristic tile.  The class-index
# sigmoid kernel keeps more values live per logit: at 16 per thread triton 3.6
# caps it at 128 registers and spills on sm_80, at 8 it does not.
# The soft-target softmax kernel keeps q_j and g'_j of its tile live as well.
# A softmax class tile of 512 or more takes 32 a thread, one row a program: its row reductions
# then cross fewer warps ((N, 1000) fp32: 59.1 -> 35.4 SASS per logit at 4 warps instead of 8;
# 20.1 at one warp a row).
ELEMENTS_PER_THREAD = {
    "softmax_focal_fwd": 16,
    "sigmoid_focal_index_fwd": 8,
    "softmax_focal_soft": 8,
    "distribution_focal": 8,
}  # DFL rows too long for the small-C kernel: the soft kernel
LONG_ROW_TILE, LONG_ROW_ELEMENTS_PER_THREAD = 512, 32


# The class-index sigmoid kernel, and the softmax over a row that one power-of-two tile would pad,
# have C compiled in and walk a row in unpadded class tiles of one of these widths, the one that
# pads C least (the widest among equals): no idle lane for C = 80 (16), 1000 (8).
INDEX_CLASS_TILES = (32, 16, 8)
INDEX_TILE = 1024  # logits of one class tile of a program


def index_class_tile(num_classes: int) -> int:
    """The unpadded class tile of a row of ``num_classes`` contiguous classes: of the widths whose
    tiles unroll (class_walk.tiles_unroll) the one that pads least, the widest among equals (C =
    150: 5 tiles of 32, not 19 looped tiles of 8, 117.8 -> 36 SASS per logit), or of all the widths
    where none unrolls (C = 1000: 8)."""
    if num_classes <= INDEX_CLASS_TILES[-1]:
        return triton.next_power_of_2(num_classes)
    widths = [width for width in INDEX_CLASS_TILES if tiles_unroll(num_classes, width)] or INDEX_CLASS_TILES
    return min(widths, key=lambda width: (triton.cdiv(num_classes, width) * width, -width))


SOFT_KERNELS = ("softmax_focal_soft", "distribution_focal")  # DFL rows of more than SMALL_C_MAX bins: the soft kernel
SOFTMAX_KERNELS = ("softmax_focal_fwd", *SOFT_KERNELS)


def padded_softmax_row(num_classes: int) -> bool:
    """Whether a softmax row takes unpadded class tiles: one power-of-two tile would pad it by more
    than 1/8 and at most 8 tiles of INDEX_CLASS_TILES cover it."""
    padded = triton.next_power_of_2(num_classes)
    return INDEX_CLASS_TILES[-1] < num_classes <= 8 * INDEX_CLASS_TILES[0] and 8 * (padded - num_classes) > padded


def tile_shape(num_classes: int, layout: RowsLayout, kernel_name: str, logit_bytes: int = 4) -> tuple[int, int, int]:
    """The heuristic (BLOCK_S, BLOCK_C, num_warps) of ``kernel_name``: classes contiguous ->
    the tile runs along C; classes strided (NCHW) -> it runs along S, so loads coalesce
    either way; at least 4 warps, else ELEMENTS_PER_THREAD logits per thread (the class-index
    kernel over contiguous classes: one 128-bit vector of ``logit_bytes`` logits a thread; a long
    softmax row: one row a program, a warp per 1024 classes)."""
    classes = triton.next_power_of_2(num_classes)
    rows = max(triton.next_power_of_2(layout.rows), 1)  # 0 rows (an empty batch): no program runs
    unpadded = kernel_name == "sigmoid_focal_index_fwd" or (
        kernel_name in SOFTMAX_KERNELS and padded_softmax_row(num_classes)
    )
    if layout.logits_strides[1] == 1 and unpadded:
        # C compiled in, the row walked in unpadded class tiles (C = 80: 5 of 16, not one of 128
        # lanes), one 128-bit vector of logits a thread; two for the sigmoid kernel when it takes each
        # row's positive after the tiles, whose work once a row then spreads over twice the logits
        # ((N, 80) bf16: 33.0 -> 31.1 SASS per logit, fp32 36.5 -> 32.3)
        negatives_first = kernel_name == "sigmoid_focal_index_fwd" and num_classes >= NEGATIVES_FIRST_CLASSES
        vectors = 2 if negatives_first else 1
        block_c = index_class_tile(num_classes)
        block_s = min(max(vectors * INDEX_TILE // block_c, 1), rows)
        # the soft-target kernel keeps three values a logit in registers: 4 logits a thread, so
        # 16-bit logits too keep 16 warps resident (99 registers, 64-bit accesses, not 168, 12 warps)
        per_thread = 4 if kernel_name in SOFT_KERNELS else vectors * 16 // logit_bytes
        return block_s, block_c, max(4, block_s * block_c // (32 * per_thread))
    if layout.logits_strides[1] == 1:
        block_c = min(classes, MAX_SINGLE_TILE_CLASSES)
        block_s = min(max(TILE // block_c, 1), rows)
    else:
        block_s = min(128, rows)
        block_c = min(classes, max(TILE // block_s, 1))
    if kernel_name == "softmax_focal_fwd" and block_c >= LONG_ROW_TILE:
        # one row a program at 32 logits a thread: up to 1024 classes the row's max and sum stay in
        # one warp, no barrier ((N, 1000) bf16: 31.2 -> 20.9 SASS per logit; 1-warp blocks keep 32
        # warps resident)
        return 1, block_c, max(1, block_c // (32 * LONG_ROW_ELEMENTS_PER_THREAD))
    per_thread = ELEMENTS_PER_THREAD[kernel_name]
    return block_s, block_c, max(4, block_s * block_c // (32 * per_thread))


def layout_kind(layout: RowsLayout) -> str:
    return "classes-contiguous" if layout.logits_strides[1] == 1 else "classes-strided"


def tile_candidates(num_classes: int, layout: RowsLayout) -> list[tuple[int, int, int]]:
    """The (BLOCK_S, BLOCK_C, num_warps) tiles ``focal-triton tune`` measures for a layout:
    rows per program x class tile x warps, around the heuristic."""
    classes = triton.next_power_of_2(num_classes)
    rows = triton.next_power_of_2(layout.rows)
    shapes = set()
    for tile in (1024, 2048, 4096, 8192):
        if layout.logits_strides[1] == 1:
            class_tiles = (classes,) if classes <= MAX_SINGLE_TILE_CLASSES else (2048, 4096, 8192)
            shapes |= {(min(max(tile // c, 1), rows), c) for c in class_tiles if c <= tile}
        else:
            shapes |= {(min(s, rows), min(classes, max(tile // s, 1))) for s in (32, 64, 128, 256)}
    return sorted((s, c, w) for s, c in shapes for w in (4, 8, 16) if w * 32 <= s * c)


_FORCED_TILE: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("focal_triton_forced_tile", default=None)


@contextlib.contextmanager
def forced_tile(tile: tuple[int, int, int] | None) -> Iterator[None]:
    """Within the block, the multiclass kernels launch with ``tile`` = (BLOCK_S, BLOCK_C,
    num_warps) (``focal-triton tune`` and the tests measure every candidate this way)."""
    token = _FORCED_TILE.set(tile)
    try:
        yield
    finally:
        _FORCED_TILE.reset(token)


# The softmax over a few classes strided in memory (NCHW maps) or over rows of two classes, and
# the distribution focal loss over a few bins in any layout, run a kernel of their own,
# kernels/softmax_focal.py softmax_focal_small_c_kernel: C compiled in and unrolled, rows as
# vector lanes, a row in the registers of one thread.  Its tile is (BLOCK_S, CLASSES_UNROLLED,
# num_warps): SMALL_C_WARPS warps of rows_per_thread(...) rows a thread.
SMALL_C_MAX = 32
CLASSES_UNROLLED = 0
SMALL_C_WARPS = 4


def small_c_rows_per_thread(num_classes: int, strided: bool) -> int:
    """Classes strided: 4 rows a thread, 128-bit float32 loads and stores along S (64-bit for
    16-bit logits: 8 rows a thread, for 128 bits, take 254 registers and spill on sm_90).  Classes
    contiguous: about 8 logits a thread (C = 2: 4 rows, 37 registers; DFL's 17 bins: one row, 40)."""
    return 4 if strided else min(4, max(1, 8 // num_classes))


def small_c_tile(kernel_name: str, num_classes: int, layout: RowsLayout) -> tuple[int, int, int] | None:
    """The tile of the small-C kernel when it serves this launch (the softmax with classes strided
    or two classes, the distribution focal loss; C <= SMALL_C_MAX), else None; fewer rows (and
    warps) for small maps."""
    strided = layout.logits_strides[1] != 1
    softmax = kernel_name == "softmax_focal_fwd" and (strided or num_classes == 2)
    if not (softmax or kernel_name == "distribution_focal") or num_classes > SMALL_C_MAX:
        return None
    rows_per_thread = small_c_rows_per_thread(num_classes, strided)
    block_s = min(32 * SMALL_C_WARPS * rows_per_thread, max(triton.next_power_of_2(layout.rows), 1))
    return block_s, CLASSES_UNROLLED, max(1, min(SMALL_C_WARPS, block_s // (32 * rows_per_thread)))


def class_tile(kernel_name: str, logits: torch.Tensor, layout: RowsLayout) -> tuple[int, int, int]:
    """(BLOCK_S, BLOCK_C, num_warps) of a multiclass launch: a forced tile, else the small-C
    kernel's tile where it serves, else the shipped table's entry for (class bucket, layout
    kind, dtype) on this GPU, else the heuristic."""
    tile, source = _FORCED_TILE.get(), "forced"
    if tile is None:
        tile, source = small_c_tile(kernel_name, logits.shape[1], layout), "small C"
    if tile is None:
        config = shipped_config(kernel_name, logits, logits.shape[1], layout_kind(layout), logits.dtype)
        if config is not None:
            tile, source = (config["BLOCK_S"], config["BLOCK_C"], config["num_warps"]), "shipped"
        else:
            tile, source = tile_shape(logits.shape[1], layout, kernel_name, logits.element_size()), "heuristic"
    record_launch(kernel_name, dict(zip(("BLOCK_S", "BLOCK_C", "num_warps"), tile, strict=True)), source)
    return tile


# ----------------------------------------------------------------------------- shipped tables
def table_path(capability: tuple[int, int]) -> Path:
    major, minor = capability
    return CONFIG_DIR / f"sm{major}{minor}.json"


def table_key(n: int, *parts: Any) -> str:
    """The key of a table entry: the size bucket of ``n``, then the dtypes (and layout kind)."""
    return "|".join([str(size_bucket(n)), *(str(p).replace("torch.", "") for p in parts)])


@functools.cache
def _table(capability: tuple[int, int]) -> dict:
    path = table_path(capability)
    return json.loads(path.read_text()) if path.exists() else {}


def shipped_config(kernel_name: str, tensor: torch.Tensor, n: int, *parts: Any) -> dict | None:
    """The shipped config of this kernel for ``table_key(n, *parts)`` on the tensor's GPU, or None
    (not CUDA, interpreter, tables off, or no entry)."""
    if not tensor.is_cuda or interpreter_enabled() or os.environ.get("FOCAL_TRITON_CONFIGS") == "0":
        return None
    table = _table(torch.cuda.get_device_capability(tensor.device))
    return table.get(kernel_name, {}).get(table_key(n, *parts))


# ----------------------------------------------------------------------------- the launch record
@contextlib.contextmanager
def kernel_path_on_cpu() -> Iterator[None]:
    """Within the block, the public functions take the kernels' path for CPU tensors, as under the
    interpreter, whatever TRITON_INTERPRET says; with Triton imported for a GPU the launches must be
    intercepted (``focal_triton.perf.launches.captured_launches`` records them there, the report's
    source).  The launchers read no device facts on that path but the shipped tables (off there)."""
    with _kernel_path_on_cpu():
        yield


_RECORD: contextvars.ContextVar[dict | None] = contextvars.ContextVar("focal_triton_launch_record", default=None)


@contextlib.contextmanager
def recording_launches() -> Iterator[dict[str, dict]]:
    """Within the block, every launch records kernel name -> {"config": {...}, "source":
    "autotuned" | "shipped" | "heuristic" | "forced", "ms": the autotuner's time or None} in
    the dict this yields (the last launch of each kernel).  Outside it nothing is recorded."""
    record: dict[str, dict] = {}
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def record_launch(kernel_name: str, config: dict, source: str, ms: float | None = None) -> None:
    record = _RECORD.get()
    if record is not None:
        record[kernel_name] = {"config": config, "source": source, "ms": ms}


def describe(entry: dict) -> str:
    """One line for a recorded launch: 'BLOCK=2048 num_warps=8 (shipped)'."""
    return " ".join(f"{k}={v}" for k, v in entry["config"].items()) + f" ({entry['source']})"
