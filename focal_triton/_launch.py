"""Launchers: block choice, dtype dispatch, output buffers and the kernel launches.

Inputs reaching these functions have passed ``_validation``.  No function here
reads a tensor value on the host, so the whole path is free of host-device
syncs and can be captured in a CUDA graph.
"""

import os
import struct
from dataclasses import dataclass

import torch
import triton
import triton.language as tl

from focal_triton.kernels.grad_scale import scale_grad_kernel
from focal_triton.kernels.reduce import REDUCE_CHUNK, sum_partials_kernel
from focal_triton.kernels.sigmoid_focal import sigmoid_focal_fwd_kernel
from focal_triton.kernels.softmax_focal import (
    ALPHA_NONE,
    ALPHA_PER_CLASS,
    ALPHA_SCALAR,
    sigmoid_focal_index_fwd_kernel,
    softmax_focal_fwd_kernel,
)

from ._backend import interpreter_enabled
from ._layout import RowsLayout, layout_kind, rows_layout, tile_shape, wide_class_offsets
from ._tuning import shipped_config, size_bucket

REDUCE_BLOCK = 1024
# (BLOCK, num_warps) candidates of the element-wise kernels.  Left out because
# they spill registers: BLOCK 4096 with 4 warps, 8192 with 16 warps (sm_80), and
# 4096 with 8 warps (bf16/uint8 'none' on sm_90 with triton 3.6).
ELEMENTWISE_CONFIGS = ((1024, 4), (2048, 4), (2048, 8), (4096, 16))
ONE_CONFIG = ((1024, 4),)


def autotune_enabled():
    """One config under the interpreter (tests stay fast) or with FOCAL_TRITON_AUTOTUNE=0."""
    return not interpreter_enabled() and os.environ.get("FOCAL_TRITON_AUTOTUNE", "1") != "0"


def _configs():
    chosen = ELEMENTWISE_CONFIGS if autotune_enabled() else ONE_CONFIG
    return [triton.Config({"BLOCK": block}, num_warps=warps) for block, warps in chosen]


def _prune_to_size(configs, named_args, **kwargs):
    # Blocks larger than the tensor only idle lanes; keep them out of the search.
    fitting = [c for c in configs if c.kwargs["BLOCK"] <= triton.next_power_of_2(named_args["n"])]
    return fitting or configs[:1]


# The key is a size bucket (ceil(log2 n)); the dtypes of the tensor arguments
# are added by the autotuner, so a training loop tunes once per bucket and
# dtype instead of once per distinct size.
_sigmoid_fwd = triton.autotune(
    configs=_configs(), key=["size_bucket"], prune_configs_by={"early_config_prune": _prune_to_size}
)(sigmoid_focal_fwd_kernel)
# The backward scale is not autotuned: tuning an in-place kernel needs the
# autotuner's restore copies, torch writes that bump the version counter of the
# saved gradient, which a repeated backward (retain_graph, gradcheck) then
# rejects.  One fixed config: 8 elements per thread, 128-bit accesses.
SCALE_CONFIG = (2048, 8) if autotune_enabled() else ONE_CONFIG[0]


LAST_CONFIG = {}  # kernel name -> description of the configuration of its last launch (for the bench)


def _launch_elementwise(autotuned, kernel_name, n, dtypes, args, kwargs):
    """Launches a 1-D element-wise kernel over n elements with the shipped config for
    (bucket, dtypes) on this GPU, or through the autotuner.  Nothing the caller reads
    afterwards depends on the config that ran (the partial sums are per REDUCE_CHUNK
    elements), so concurrent calls from several threads cannot mix up their sizes."""
    config = shipped_config(kernel_name, args[0], n, *dtypes)
    if config is not None and (config["BLOCK"], config["num_warps"]) not in ELEMENTWISE_CONFIGS:
        config = None  # a table from another version: the buffers are sized for these configs only
    if config is None:
        autotuned[_grid(n)](*args, **kwargs)
        best = autotuned.best_config  # for the bench's record only
        LAST_CONFIG[kernel_name] = f"BLOCK={best.kwargs['BLOCK']} warps={best.num_warps} (autotuned)"
    else:
        block, warps = config["BLOCK"], config["num_warps"]
        autotuned.fn[(triton.cdiv(n, block),)](*args, **kwargs, BLOCK=block, num_warps=warps)
        LAST_CONFIG[kernel_name] = f"BLOCK={block} warps={warps} (shipped)"


def accumulator_dtype(dtype):
    """fp32 math (and sums) for fp32/fp16/bf16 data, fp64 for float64 data."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def grad_buffer_dtype(dtype):
    """The dtype the forward writes dL/dx in.  float16 gradients stay float32 until
    backward has multiplied in grad_output: a 'mean' gradient g / n, stored in float16
    before GradScaler's 2**16 arrives, would underflow (float16's smallest subnormal is
    6e-8).  bfloat16 has float32's exponent range and keeps its own dtype."""
    return torch.float32 if dtype == torch.float16 else dtype


def compute_dtype(dtype):
    """accumulator_dtype as a Triton dtype, for the kernels' COMPUTE argument."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def float64_parts(value):
    """(value rounded to float32, the remainder): how a float64 scalar reaches a kernel
    (see kernels/stable_math.py, float64_scalar)."""
    rounded = struct.unpack("f", struct.pack("f", value))[0]
    return rounded, value - rounded


def _grid(n):
    return lambda meta: (triton.cdiv(n, meta["BLOCK"]),)


def empty_reduction(reduction, dtype, device):
    """'sum' of nothing is 0 and 'mean' of nothing is NaN, as torch.sum / torch.mean give."""
    fill = float("nan") if reduction == "mean" else 0.0
    return torch.full((), fill, dtype=dtype, device=device)


def finish_reduction(partials, n_partials, denominator, out_dtype, count=None):
    """Sums ``partials[:n_partials]`` in a fixed order and divides by ``denominator``
    (times ``count``, a 0-d device tensor, when given)."""
    out = torch.empty((), dtype=out_dtype, device=partials.device)
    sum_partials_kernel[(1,)](
        partials, out, n_partials, *float64_parts(denominator), partials if count is None else count,
        COUNT_ON_DEVICE=count is not None, BLOCK=REDUCE_BLOCK,
    )  # fmt: skip
    return out


def sigmoid_focal_forward(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype):
    """Runs the fused sigmoid focal kernel.

    Returns (loss, grad): loss has the shape of ``inputs`` for 'none' and is a
    0-d tensor otherwise, in ``loss_dtype``; grad is dL/dx (already divided by the
    'mean' denominator) in ``grad_buffer_dtype`` when ``need_grad``, else None.
    uint8 targets equal to ``ignore_index`` (when it is a uint8 value) contribute
    nothing and leave the 'mean' denominator.
    """
    x = inputs.contiguous()
    t = targets.contiguous()
    ignore = t.dtype == torch.uint8 and 0 <= ignore_index <= 255
    if t.dtype == torch.bool:
        t = t.view(torch.uint8)  # same bytes, no copy
    n = x.numel()
    grad = torch.empty_like(x, dtype=grad_buffer_dtype(x.dtype)) if need_grad else None
    reduce = reduction != "none"
    if n == 0:
        empty = empty_reduction(reduction, loss_dtype, x.device) if reduce else torch.empty_like(x, dtype=loss_dtype)
        return empty, grad
    count = non_ignored_count(t, ignore_index) if ignore and reduction == "mean" else None
    denominator = float(n) if reduction == "mean" and count is None else 1.0
    n_partials = triton.cdiv(n, REDUCE_CHUNK.value)
    partials = torch.empty(n_partials, dtype=accumulator_dtype(x.dtype), device=x.device) if reduce else None
    loss = None if reduce else torch.empty_like(x, dtype=loss_dtype)
    loss_ptr, partial_ptr, grad_ptr, count_ptr = (x if p is None else p for p in (loss, partials, grad, count))
    _launch_elementwise(
        _sigmoid_fwd, "sigmoid_focal_fwd", n, (x.dtype, t.dtype),
        (x, t, loss_ptr, partial_ptr, grad_ptr, count_ptr, n, *float64_parts(0.0 if alpha is None else alpha),
         *float64_parts(gamma), *float64_parts(denominator), ignore_index if ignore else 0, size_bucket(n)),
        {"HAS_ALPHA": alpha is not None, "HARD_LABELS": t.dtype == torch.uint8, "IGNORE": ignore,
         "COUNT_ON_DEVICE": count is not None, "REDUCE": reduce, "WRITE_GRAD": need_grad,
         "COMPUTE": compute_dtype(x.dtype)},
    )  # fmt: skip
    if not reduce:
        return loss, grad
    return finish_reduction(partials, n_partials, denominator, loss_dtype, count), grad


def scale_grad_in_place(grad, grad_output):
    """grad *= grad_output (a 0-d device tensor) unless it is 1.0; see kernels/grad_scale.py.

    ``grad`` must be dense.  Returns a 0-d device tensor holding the scale the
    buffer now carries.
    """
    carried = torch.empty((), dtype=accumulator_dtype(grad.dtype), device=grad.device)
    n = grad.numel()
    if n:
        block, warps = SCALE_CONFIG
        scale_grad_kernel[(triton.cdiv(n, block),)](
            grad, grad_output, carried, n, COMPUTE=compute_dtype(grad.dtype), BLOCK=block, num_warps=warps
        )  # fmt: skip
    return carried


def non_ignored_count(targets, ignore_index):
    """0-d int64 device tensor: how many targets differ from ignore_index (no host sync)."""
    info = torch.iinfo(targets.dtype)
    if not info.min <= ignore_index <= info.max:  # no target can equal it
        return torch.full((), targets.numel(), dtype=torch.int64, device=targets.device)
    return (targets != ignore_index).sum()


@dataclass
class ClassLaunch:
    """Everything a (B, C, S) kernel launch needs besides its loss-specific arguments."""

    logits: torch.Tensor
    targets: torch.Tensor  # flat, one class index per row
    grad: "torch.Tensor | None"
    out: "torch.Tensor | None"  # 'none' loss: per row, or laid out as the logits
    partials: "torch.Tensor | None"
    count: "torch.Tensor | None"  # non-ignored rows, for 'mean'
    layout: RowsLayout
    block_s: int
    block_c: int
    num_warps: int
    loss_dtype: torch.dtype

    @property
    def n_s_blocks(self):
        return triton.cdiv(self.layout.rows, self.block_s)

    @property
    def grid(self):
        return (self.layout.batches * self.n_s_blocks,)

    def pointers(self):
        """loss, partial, grad and count pointers (a placeholder where one is not used)."""
        spare = self.targets
        return tuple(spare if p is None else p for p in (self.out, self.partials, self.grad, self.count))

    def shape_arguments(self):
        return (self.layout.rows, self.logits.shape[1], self.n_s_blocks, *self.layout.logits_strides,
                *self.layout.grad_strides)  # fmt: skip


def walkable(logits):
    """``logits``, copied to contiguous when its trailing dims do not merge into one stride."""
    return logits if rows_layout(logits, torch.empty_like(logits, device="meta")) else logits.contiguous()


def gradient_like(logits, dtype):
    """An empty ``dtype`` tensor laid out as the multiclass launchers lay out the gradient of ``logits``."""
    return torch.empty_like(walkable(logits), dtype=dtype)


def class_tile(kernel_name, logits, layout, tile=None):
    """(BLOCK_S, BLOCK_C, num_warps): ``tile`` when given (``focal-triton tune``), else the
    shipped table's entry for (class bucket, layout kind, dtype) on this GPU, else the heuristic.
    Recorded in LAST_CONFIG."""
    if tile is not None:
        source = "given"
    elif (
        config := shipped_config(kernel_name, logits, logits.shape[1], layout_kind(layout), logits.dtype)
    ) is not None:
        tile, source = (config["BLOCK_S"], config["BLOCK_C"], config["num_warps"]), "shipped"
    else:
        tile, source = tile_shape(logits.shape[1], layout, kernel_name), "heuristic"
    LAST_CONFIG[kernel_name] = "BLOCK_S={} BLOCK_C={} warps={} ({})".format(*tile, source)
    return tile


def prepare_class_launch(
    kernel_name, inputs, targets, reduction, ignore_index, need_grad, per_element_none, loss_dtype, tile
):
    """Buffers, layout and tile of a multiclass launch.

    Buffers are empty_like(logits), which keeps the layout of dense logits
    (channels_last too); logits whose trailing dims do not merge are copied to
    contiguous first."""
    reduce = reduction != "none"
    x = walkable(inputs)
    grad = gradient_like(x, grad_buffer_dtype(x.dtype)) if need_grad else None
    out = torch.empty_like(x, dtype=loss_dtype) if per_element_none and not reduce else None
    layout = rows_layout(x, next(b for b in (grad, out, x) if b is not None))
    t = targets.contiguous().reshape(-1)
    if not reduce and out is None:
        out = torch.empty(t.numel(), dtype=loss_dtype, device=x.device)
    block_s, block_c, num_warps = class_tile(kernel_name, x, layout, tile)
    launch = ClassLaunch(x, t, grad, out, None, None, layout, block_s, block_c, num_warps, loss_dtype)
    if reduce:
        launch.partials = torch.empty(launch.grid[0], dtype=accumulator_dtype(x.dtype), device=x.device)
    if reduction == "mean":
        launch.count = non_ignored_count(t, ignore_index)
    return launch


def finish_class_launch(launch, reduction, targets_shape, per_element_none):
    """(loss, grad) after the kernel ran: the fixed-order reduction, or the 'none' output."""
    x, loss_dtype = launch.logits, launch.loss_dtype
    if reduction == "none":
        return (launch.out if per_element_none else launch.out.reshape(targets_shape)), launch.grad
    if x.numel() == 0:
        return empty_reduction(reduction, loss_dtype, x.device), launch.grad
    # sigmoid 'mean' is over the non-ignored elements: C per non-ignored row
    multiplier = float(x.shape[1]) if per_element_none and reduction == "mean" else 1.0
    return finish_reduction(launch.partials, launch.grid[0], multiplier, loss_dtype, launch.count), launch.grad


def _alpha_arguments(alpha, placeholder):
    """(ALPHA_MODE, scalar alpha, per-class alpha tensor or a placeholder pointer)."""
    if alpha is None:
        return ALPHA_NONE, 0.0, placeholder
    if isinstance(alpha, float):
        return ALPHA_SCALAR, alpha, placeholder
    return ALPHA_PER_CLASS, 0.0, alpha


def softmax_focal_forward(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype, tile=None):
    """Runs the fused softmax focal kernel on (N, C, *) logits and (N, *) class indices.

    Returns (loss, grad): loss of shape (N, *) for 'none' (0 at ignored positions),
    else 0-d; grad is dL/dx (divided by the non-ignored count for 'mean'), laid out
    as the logits in ``grad_buffer_dtype``, when ``need_grad``; the loss is in ``loss_dtype``.
    """
    launch = prepare_class_launch(
        "softmax_focal_fwd", inputs, targets, reduction, ignore_index, need_grad, False, loss_dtype, tile
    )
    if launch.logits.numel():
        alpha_mode, alpha_scalar, alpha_tensor = _alpha_arguments(alpha, launch.targets)
        loss_ptr, partial_ptr, grad_ptr, count_ptr = launch.pointers()
        softmax_focal_fwd_kernel[launch.grid](
            launch.logits, launch.targets, alpha_tensor, loss_ptr, partial_ptr, grad_ptr, count_ptr,
            *launch.shape_arguments(), *float64_parts(alpha_scalar), *float64_parts(gamma), ignore_index,
            ALPHA_MODE=alpha_mode, REDUCE=reduction != "none", WRITE_GRAD=need_grad, MEAN=reduction == "mean",
            SINGLE_TILE=launch.logits.shape[1] <= launch.block_c, COMPUTE=compute_dtype(launch.logits.dtype),
            WIDE_CLASS_OFFSETS=wide_class_offsets(launch.logits.shape[1], launch.layout),
            BLOCK_S=launch.block_s, BLOCK_C=launch.block_c, num_warps=launch.num_warps,
        )  # fmt: skip
    return finish_class_launch(launch, reduction, targets.shape, per_element_none=False)


def sigmoid_focal_index_forward(
    inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype, tile=None
):
    """Runs the sigmoid focal kernel on (N, C, *) logits against the implicit one-hot of
    (N, *) class indices.  Returns (loss, grad) as sigmoid_focal_forward, with 'none'
    of the logits' shape (0 at ignored positions) and 'mean' over the non-ignored elements."""
    launch = prepare_class_launch(
        "sigmoid_focal_index_fwd", inputs, targets, reduction, ignore_index, need_grad, True, loss_dtype, tile
    )
    if launch.logits.numel():
        loss_ptr, partial_ptr, grad_ptr, count_ptr = launch.pointers()
        sigmoid_focal_index_fwd_kernel[launch.grid](
            launch.logits, launch.targets, loss_ptr, partial_ptr, grad_ptr, count_ptr,
            *launch.shape_arguments(), *float64_parts(0.0 if alpha is None else alpha), *float64_parts(gamma),
            ignore_index,
            HAS_ALPHA=alpha is not None, REDUCE=reduction != "none", WRITE_GRAD=need_grad, MEAN=reduction == "mean",
            COMPUTE=compute_dtype(launch.logits.dtype),
            WIDE_CLASS_OFFSETS=wide_class_offsets(launch.logits.shape[1], launch.layout),
            BLOCK_S=launch.block_s, BLOCK_C=launch.block_c, num_warps=launch.num_warps,
        )  # fmt: skip
    return finish_class_launch(launch, reduction, targets.shape, per_element_none=True)
