"""Launchers of the kernels that walk (N, C, *) logits with (N, *) class indices
(kernels/class_walk.py): the softmax focal loss and the sigmoid loss with class-index targets.

Buffers are empty_like(logits), which keeps the layout of dense logits (channels_last too);
logits whose trailing dims do not merge into one stride are copied to contiguous first.
Nothing here reads a tensor value on the host.
"""

from dataclasses import dataclass

import torch
import triton

from focal_triton.kernels.sigmoid_focal import sigmoid_focal_index_fwd_kernel
from focal_triton.kernels.softmax_focal import (
    ALPHA_NONE,
    ALPHA_PER_CLASS,
    ALPHA_SCALAR,
    softmax_focal_fwd_kernel,
    softmax_focal_small_c_kernel,
)
from focal_triton.kernels.stable_math import ANY_GAMMA

from . import tuning
from ._dtypes import accumulator_dtype, grad_buffer_dtype
from ._kernel_args import compute_dtype, float64_arguments, gamma_constexpr
from ._layout import RowsLayout, rows_layout, wide_class_offsets
from ._reduction import empty_reduction, finish_reduction, non_ignored_count


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
    tile: tuple  # (BLOCK_S, BLOCK_C, num_warps)
    reduction: str
    loss_dtype: torch.dtype

    @property
    def n_s_blocks(self):
        return triton.cdiv(self.layout.rows, self.tile[0])

    @property
    def grid(self):
        return (self.layout.batches * self.n_s_blocks,)

    def kernel_arguments(self):
        """The keyword arguments every (B, C, S) kernel takes (a placeholder pointer where an
        output is not written)."""
        spare = self.targets
        (stride_xb, stride_xc, stride_xs), (stride_gb, stride_gc, stride_gs) = (
            self.layout.logits_strides, self.layout.grad_strides
        )  # fmt: skip
        block_s, block_c, num_warps = self.tile
        return dict(
            x_ptr=self.logits, t_ptr=self.targets, loss_ptr=spare if self.out is None else self.out,
            partial_ptr=spare if self.partials is None else self.partials,
            grad_ptr=spare if self.grad is None else self.grad, count_ptr=spare if self.count is None else self.count,
            S=self.layout.rows, C=self.logits.shape[1], n_s_blocks=self.n_s_blocks,
            stride_xb=stride_xb, stride_xc=stride_xc, stride_xs=stride_xs,
            stride_gb=stride_gb, stride_gc=stride_gc, stride_gs=stride_gs,
            REDUCE=self.reduction != "none", WRITE_GRAD=self.grad is not None, MEAN=self.reduction == "mean",
            COMPUTE=compute_dtype(self.logits.dtype),
            WIDE_CLASS_OFFSETS=wide_class_offsets(self.logits.shape[1], self.layout),
            BLOCK_S=block_s, BLOCK_C=block_c, num_warps=num_warps,
        )  # fmt: skip


def walkable(logits):
    """``logits``, copied to contiguous when its trailing dims do not merge into one stride."""
    return logits if rows_layout(logits, torch.empty_like(logits, device="meta")) else logits.contiguous()


def gradient_like(logits, dtype):
    """An empty ``dtype`` tensor laid out as the multiclass launchers lay out the gradient of ``logits``."""
    return torch.empty_like(walkable(logits), dtype=dtype)


def prepare_class_launch(kernel_name, inputs, targets, reduction, ignore_index, need_grad, per_element, loss_dtype):
    """Buffers, layout and tile of a multiclass launch; ``per_element``: the 'none' loss has the
    logits' shape (else one value per row)."""
    reduce = reduction != "none"
    x = walkable(inputs)
    grad = gradient_like(x, grad_buffer_dtype(x.dtype)) if need_grad else None
    out = torch.empty_like(x, dtype=loss_dtype) if per_element and not reduce else None
    layout = rows_layout(x, next(b for b in (grad, out, x) if b is not None))
    t = targets.contiguous().reshape(-1)
    if not reduce and out is None:
        out = torch.empty(t.numel(), dtype=loss_dtype, device=x.device)
    tile = tuning.class_tile(kernel_name, x, layout)
    launch = ClassLaunch(x, t, grad, out, None, None, layout, tile, reduction, loss_dtype)
    if reduce:
        launch.partials = torch.empty(launch.grid[0], dtype=accumulator_dtype(x.dtype), device=x.device)
    if reduction == "mean":
        launch.count = non_ignored_count(t, ignore_index)
    return launch


def finish_class_launch(launch, targets_shape, per_element):
    """(loss, grad) after the kernel ran: the fixed-order reduction, or the 'none' output."""
    x, loss_dtype = launch.logits, launch.loss_dtype
    if launch.reduction == "none":
        return (launch.out if per_element else launch.out.reshape(targets_shape)), launch.grad
    if x.numel() == 0:
        return empty_reduction(launch.reduction, loss_dtype, x.device), launch.grad
    # a per-element 'mean' is over the non-ignored elements: C per non-ignored row
    multiplier = float(x.shape[1]) if per_element and launch.reduction == "mean" else 1.0
    return finish_reduction(launch.partials, launch.grid[0], multiplier, loss_dtype, launch.count), launch.grad


def softmax_focal_forward(
    inputs, targets, alpha, alpha_per_class, gamma, reduction, ignore_index, need_grad, loss_dtype
):
    """Runs the fused softmax focal kernel on (N, C, *) logits and (N, *) class indices.

    alpha: one factor for every class, or None; alpha_per_class: C weights in the accumulator
    dtype (then alpha is None), or None.  Returns (loss, grad): loss of shape (N, *) for 'none'
    (0 at ignored positions), else 0-d, in ``loss_dtype``; grad is dL/dx (divided by the
    non-ignored count for 'mean'), laid out as the logits in ``grad_buffer_dtype``, when
    ``need_grad``, else None.
    """
    launch = prepare_class_launch(
        "softmax_focal_fwd", inputs, targets, reduction, ignore_index, need_grad, False, loss_dtype
    )
    if launch.logits.numel():
        if alpha_per_class is not None:
            alpha_mode = ALPHA_PER_CLASS
        else:
            alpha_mode = ALPHA_NONE if alpha is None else ALPHA_SCALAR
        arguments = dict(
            **launch.kernel_arguments(), **float64_arguments(alpha=alpha or 0.0, gamma=gamma),
            alpha_ptr=launch.targets if alpha_per_class is None else alpha_per_class, ignore_index=ignore_index,
            ALPHA_MODE=alpha_mode, GAMMA=gamma_constexpr(gamma),
        )  # fmt: skip
        if launch.tile[1] == tuning.CLASSES_UNROLLED:
            del arguments["BLOCK_C"]  # C is compiled in instead
            softmax_focal_small_c_kernel[launch.grid](**arguments)
        else:
            softmax_focal_fwd_kernel[launch.grid](**arguments, SINGLE_TILE=launch.logits.shape[1] <= launch.tile[1])
    return finish_class_launch(launch, targets.shape, per_element=False)


def sigmoid_focal_index_forward(inputs, targets, alpha, gamma, reduction, ignore_index, need_grad, loss_dtype):
    """Runs the sigmoid focal kernel on (N, C, *) logits against the implicit one-hot of
    (N, *) class indices.  Returns (loss, grad) as sigmoid_focal_forward, with 'none'
    of the logits' shape (0 at ignored positions) and 'mean' over the non-ignored elements."""
    launch = prepare_class_launch(
        "sigmoid_focal_index_fwd", inputs, targets, reduction, ignore_index, need_grad, True, loss_dtype
    )
    if launch.logits.numel():
        sigmoid_focal_index_fwd_kernel[launch.grid](
            **launch.kernel_arguments(), **float64_arguments(alpha=0.0 if alpha is None else alpha, gamma=gamma),
            ignore_index=ignore_index, HAS_ALPHA=alpha is not None,
            # not specialised on gamma: compiled for GAMMA = 2, its 16-warp tile gets 64 registers and
            # spills 8 B (ptxas of triton 3.9, sm_90); the general path does not
            GAMMA=ANY_GAMMA,
        )  # fmt: skip
    return finish_class_launch(launch, targets.shape, per_element=True)
