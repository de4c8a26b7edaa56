"""Launchers of the kernels that walk (N, C, *) logits with (N, *) class indices
(kernels/class_walk.py): the softmax focal loss and the sigmoid loss with class-index targets.

Buffers are empty_like(logits), which keeps the layout of dense logits (channels_last too);
logits whose trailing dims do not merge into one stride are copied to contiguous first.
Nothing here reads a tensor value on the host.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import triton
from torch import Tensor

from focal_triton.kernels.class_walk import TARGETS_DENSE, TARGETS_DISTANCE, TARGETS_INDEX, TARGETS_INDEX_SCORES
from focal_triton.kernels.sigmoid_focal import sigmoid_focal_index_fwd_kernel
from focal_triton.kernels.softmax_focal import (
    softmax_focal_fwd_kernel,
    softmax_focal_small_c_kernel,
    softmax_focal_soft_kernel,
)

from . import tuning
from ._dtypes import accumulator_dtype, grad_buffer_dtype
from ._kernel_args import binary_loss_arguments, compute_dtype, float64_arguments, gamma_constexpr
from ._layout import RowsLayout, rows_layout, rows_of_c, rows_walkable, wide_class_offsets
from ._options import BinaryOptions, LossOptions, SoftmaxOptions
from ._reduction import Denominator, empty_reduction, finish_reduction, loss_denominator, non_ignored_count


@dataclass
class ClassLaunch:
    """Everything a (B, C, S) kernel launch needs besides its loss-specific arguments."""

    logits: torch.Tensor
    targets: torch.Tensor  # flat, one class index per row (or the dense targets' flat view)
    grad: "torch.Tensor | None"
    out: "torch.Tensor | None"  # 'none' loss: per row, or laid out as the logits
    partials: "torch.Tensor | None"
    denominator: Denominator
    operands: dict  # name -> (N, C or 1, *) view read beside the logits, in layout.operand_strides order
    layout: RowsLayout
    tile: tuple  # (BLOCK_S, BLOCK_C, num_warps)
    reduction: str
    loss_dtype: torch.dtype
    sets: int | None = None  # L stacked sets (the B batches), reduced apart; None: one loss

    @property
    def n_s_blocks(self) -> int:
        return triton.cdiv(self.layout.rows, self.tile[0])

    @property
    def grid(self) -> tuple[int]:
        return (self.layout.batches * self.n_s_blocks,)

    def operand_arguments(self, name: str, stride_names: tuple[str, ...]) -> dict[str, Any]:
        """``<name>_ptr`` and its (b, c, s) strides under ``stride_names`` (None and zero strides when
        the operand is not given: Triton compiles the kernel without it); a per-row operand names
        (b, s) only."""
        if name not in self.operands:
            return {f"{name}_ptr": None, **dict.fromkeys(stride_names, 0)}
        strides = self.layout.operand_strides[list(self.operands).index(name)]
        if len(stride_names) == 2:
            strides = (strides[0], strides[2])
        return {f"{name}_ptr": self.operands[name], **dict(zip(stride_names, strides, strict=True))}

    def kernel_arguments(self) -> dict[str, Any]:
        """The keyword arguments every (B, C, S) kernel takes (None where an output is not written)."""
        (stride_xb, stride_xc, stride_xs), (stride_gb, stride_gc, stride_gs) = (
            self.layout.logits_strides,
            self.layout.grad_strides,
        )
        block_s, block_c, num_warps = self.tile
        return dict(
            x_ptr=self.logits,
            t_ptr=self.targets,
            loss_ptr=self.out,
            partial_ptr=self.partials,
            grad_ptr=self.grad,
            **self.denominator.kernel_arguments(),
            S=self.layout.rows,
            C=self.logits.shape[1],
            n_s_blocks=self.n_s_blocks,
            stride_xb=stride_xb,
            stride_xc=stride_xc,
            stride_xs=stride_xs,
            stride_gb=stride_gb,
            stride_gc=stride_gc,
            stride_gs=stride_gs,
            REDUCE=self.reduction != "none",
            WRITE_GRAD=self.grad is not None,
            COMPUTE=compute_dtype(self.logits.dtype),
            WIDE_CLASS_OFFSETS=wide_class_offsets(self.logits.shape[1], self.layout),
            ROWS_OF_C=rows_of_c(self.logits.shape[1], self.layout),
            BLOCK_S=block_s,
            BLOCK_C=block_c,
            num_warps=num_warps,
        )


def walkable(logits: Tensor) -> Tensor:
    """``logits``, copied to contiguous when its trailing dims do not merge into one stride."""
    return logits if rows_layout(logits, torch.empty_like(logits, device="meta")) else logits.contiguous()


def gradient_like(logits: Tensor, dtype: torch.dtype) -> Tensor:
    """An empty ``dtype`` tensor laid out as the multiclass launchers lay out the gradient of ``logits``."""
    return torch.empty_like(walkable(logits), dtype=dtype)


def loss_like_gradient(logits: Tensor, targets: Tensor, options: LossOptions, dtype: torch.dtype) -> Tensor:
    """The fake of a 'none' loss of the logits' shape, laid out as the gradient (else reduced)."""
    if options.reduce:
        return logits.new_empty(options.reduced_shape(logits), dtype=dtype)
    return gradient_like(logits, dtype)


def row_operand(tensor: Tensor, targets_shape: Sequence[int]) -> Tensor:
    """A per-row operand (e.g. weight of the softmax loss) broadcast to the (N, *) rows, as an
    (N, 1, *) view for the (B, C, S) walk."""
    return tensor.expand(targets_shape).unsqueeze(1)


def prepare_class_launch(
    kernel_name: str,
    inputs: Tensor,
    targets: Tensor,
    options: LossOptions,
    mean_denominator: Callable[[Tensor], Denominator],
    need_grad: bool,
    per_element: bool,
    loss_dtype: torch.dtype,
    operands: dict[str, Tensor | None],
    sets: int | None = None,
) -> ClassLaunch:
    """Buffers, layout and tile of a multiclass launch; ``per_element``: the 'none' loss has the
    logits' shape (else one value per row); ``mean_denominator(flat targets)``: the Denominator of
    'mean' without a normalizer; ``operands``: name -> (N, C or 1, *) views read in place (copied
    only when their trailing dims do not merge into one stride); ``sets``: the N batches are
    stacked sets, each reduced on its own (focal_triton/_stacked.py)."""
    x = walkable(inputs)
    given = {name: rows_walkable(view) for name, view in operands.items() if view is not None}
    grad = gradient_like(x, grad_buffer_dtype(x.dtype)) if need_grad else None
    out = torch.empty_like(x, dtype=loss_dtype) if per_element and not options.reduce else None
    layout = rows_layout(
        x, next(b for b in (grad, out, x) if b is not None), tuple(given.values()), keep_batches=sets is not None
    )
    assert layout is not None  # walkable logits and rows_walkable operands always merge
    # one target per row, flat; soft targets (of the logits' shape) are read as an operand, in place
    t = targets if options.soft_targets else targets.contiguous().reshape(-1)
    if not options.reduce and out is None:
        out = torch.empty(math.prod(x.shape[:1] + x.shape[2:]), dtype=loss_dtype, device=x.device)
    tile = tuning.class_tile(kernel_name, x, layout)
    denominator = loss_denominator(
        options.reduction, options.normalizer, options.normalizer_tensor, lambda: mean_denominator(t)
    )
    launch = ClassLaunch(x, t, grad, out, None, denominator, given, layout, tile, options.reduction, loss_dtype, sets)
    if options.reduce:
        launch.partials = torch.empty(launch.grid[0], dtype=accumulator_dtype(x.dtype), device=x.device)
    return launch


def finish_class_launch(
    launch: ClassLaunch, rows_shape: Sequence[int], per_element: bool
) -> tuple[Tensor, Tensor | None]:
    """(loss, grad) after the kernel ran: the fixed-order reduction, or the 'none' output."""
    x, loss_dtype, out, partials = launch.logits, launch.loss_dtype, launch.out, launch.partials
    if launch.reduction == "none":
        assert out is not None
        return (out if per_element else out.reshape(rows_shape)), launch.grad
    if x.numel() == 0:
        return empty_reduction(launch.reduction, loss_dtype, x.device, launch.denominator, launch.sets), launch.grad
    assert partials is not None
    n_partials = launch.grid[0] if launch.sets is None else launch.n_s_blocks  # a set's programs: its n_s_blocks
    return finish_reduction(partials, n_partials, launch.denominator, loss_dtype, launch.sets), launch.grad


def softmax_focal_forward(
    inputs: Tensor, targets: Tensor, options: SoftmaxOptions, need_grad: bool, loss_dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """Runs the fused softmax focal kernel on (N, C, *) logits and (N, *) class indices, or target
    probabilities of the logits' shape (``options.soft_targets``), or, for the distribution focal
    loss, one distance a row (the target its two-hot).  Returns (loss, grad): loss of shape (N, *)
    for 'none' (0 at ignored positions), else 0-d, in ``loss_dtype``; grad is dL/dx (divided by
    the denominator), laid out as the logits in ``grad_buffer_dtype``, when ``need_grad``, else
    None.  'mean' divides by the non-ignored rows, or ``options.normalizer``."""
    distances = options.loss == "distribution_focal"
    dense = options.soft_targets
    rows_shape = inputs.shape[:1] + inputs.shape[2:]
    soft = dense or distances or options.label_smoothing != 0.0
    kernel_name = "distribution_focal" if distances else ("softmax_focal_soft" if soft else "softmax_focal_fwd")
    if dense or distances:
        mean_denominator = _every_row(math.prod(rows_shape), 1.0)
    else:
        mean_denominator = _kept_rows(options.ignore_index, 1.0)
    weight = None if options.weight is None else row_operand(options.weight, rows_shape)
    operands = {"weight": weight, "q": targets if dense else None}
    launch = prepare_class_launch(
        kernel_name, inputs, targets, options, mean_denominator, need_grad, False, loss_dtype, operands
    )
    if launch.logits.numel():
        arguments = dict(
            **launch.kernel_arguments(),
            **float64_arguments(alpha=options.alpha, gamma=options.gamma),
            **launch.operand_arguments("weight", ("stride_wb", "stride_ws")),
            alpha_ptr=options.alpha_per_class,
            ignore_index=options.ignore_index,
            GAMMA=gamma_constexpr(options.gamma),
        )
        single_tile = launch.logits.shape[1] <= launch.tile[1]
        if launch.tile[1] == tuning.CLASSES_UNROLLED:
            del arguments["BLOCK_C"]  # C is compiled in instead
            softmax_focal_small_c_kernel[launch.grid](
                **arguments, TARGETS=TARGETS_DISTANCE if distances else TARGETS_INDEX
            )
        elif soft:
            softmax_focal_soft_kernel[launch.grid](
                **arguments,
                **launch.operand_arguments("q", ("stride_qb", "stride_qc", "stride_qs")),
                **float64_arguments(label_smoothing=options.label_smoothing),
                TARGETS=TARGETS_DISTANCE if distances else (TARGETS_DENSE if dense else TARGETS_INDEX),
                SMOOTHING=options.label_smoothing != 0.0,
                SINGLE_TILE=single_tile,
            )
        else:
            softmax_focal_fwd_kernel[launch.grid](**arguments, SINGLE_TILE=single_tile)
    return finish_class_launch(launch, rows_shape, per_element=False)


def _every_row(rows: int, per_row: float) -> Callable[[Tensor], Denominator]:
    """The 'mean' denominator of targets with nothing ignored: rows * per_row."""
    return lambda flat_targets: Denominator(rows * per_row)


def _kept_rows(ignore_index: int, per_row: float, sets: int | None = None) -> Callable[[Tensor], Denominator]:
    """The 'mean' denominator of class indices: the rows whose index is not ignore_index, times
    per_row (with ``sets``, one count a set)."""
    return lambda flat_targets: non_ignored_count(flat_targets, ignore_index, per_row, sets)


def sigmoid_focal_index_forward(
    inputs: Tensor, targets: Tensor, options: BinaryOptions, need_grad: bool, loss_dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """Runs the binary class-walk kernel on (N, C, *) logits against the implicit one-hot of
    (N, *) class indices: 'none' of the logits' shape (0 at ignored positions), 'mean' over the
    non-ignored elements (C per non-ignored row); result as sigmoid_focal_forward.  VFL / QFL read
    ``options.scores``, one per row, as the target at the row's class, or soft targets of the
    logits' shape; QFL's loss is one value a row (its sum over the classes): 'none' per row and
    'mean' over rows.  A VFL row's class is positive even where its score is 0.  With
    ``options.stacked`` each of the N batches is reduced on its own: an (N,) loss."""
    num_classes = inputs.shape[1]
    sets = inputs.shape[0] if options.stacked else None
    dense = options.soft_targets
    row_loss = options.loss == "quality_focal"
    per_position = 1.0 if row_loss else float(num_classes)
    if dense:
        mean_denominator = _every_row(targets.numel() // num_classes, per_position)
    else:
        mean_denominator = _kept_rows(options.ignore_index, per_position, sets)
    loss_shape = (inputs.shape[0], *inputs.shape[2:]) if row_loss else inputs.shape
    # a per-row weight is read at every class of its row: class stride 0
    weight, pos_weight = options.weight, options.pos_weight_tensor
    operands = {
        "weight": None if weight is None else _loss_operand(weight, loss_shape, row_loss).expand(inputs.shape),
        "pos_weight": None if pos_weight is None else pos_weight.expand(inputs.shape),
        "q": targets if dense else None,
    }
    launch = prepare_class_launch(
        "sigmoid_focal_index_fwd",
        inputs,
        targets,
        options,
        mean_denominator,
        need_grad,
        not row_loss,
        loss_dtype,
        operands,
        sets,
    )
    if launch.logits.numel():
        if dense:
            targets_mode = TARGETS_DENSE
        else:
            targets_mode = TARGETS_INDEX if options.scores is None else TARGETS_INDEX_SCORES
        alpha_per_class = options.alpha_per_class
        sigmoid_focal_index_fwd_kernel[launch.grid](
            **launch.kernel_arguments(),
            DENOMINATOR_PER_SET=launch.denominator.per_set,
            **launch.operand_arguments("q", ("stride_qb", "stride_qc", "stride_qs")),
            score_ptr=None if options.scores is None else options.scores.contiguous(),
            **binary_loss_arguments(options),
            TARGETS=targets_mode,
            ROW_LOSS=row_loss,
            **launch.operand_arguments("weight", ("stride_wb", "stride_wc", "stride_ws")),
            **launch.operand_arguments("pos_weight", ("stride_pwb", "stride_pwc", "stride_pws")),
            alpha_ptr=None if alpha_per_class is None else alpha_per_class.reshape(-1),
            ignore_index=options.ignore_index,
        )
    return finish_class_launch(launch, loss_shape, per_element=not row_loss)


def _loss_operand(weight: Tensor, loss_shape: Sequence[int], per_row: bool) -> Tensor:
    """A weight broadcast to the 'none' loss as the class walk reads it: (N, C, *) per element, or
    (N, 1, *) per row."""
    return row_operand(weight, loss_shape) if per_row else weight.expand(loss_shape)
