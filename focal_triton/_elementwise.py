"""The launcher of the element-wise sigmoid kernel: logits and targets of one shape, walked flat.

Inputs reaching it have passed ``_validation``; nothing here reads a tensor value on the
host, so the path is free of host-device syncs and can be captured in a CUDA graph.
"""

from typing import Any

import torch
import triton
from torch import Tensor

from focal_triton.kernels.reduce import REDUCE_CHUNK

from . import tuning
from ._dtypes import accumulator_dtype, grad_buffer_dtype, ignore_index_applies
from ._kernel_args import binary_loss_arguments, compute_dtype
from ._launch_lock import autotuning_lock
from ._layout import flat_operand
from ._options import BinaryOptions
from ._reduction import Denominator, empty_reduction, finish_reduction, loss_denominator, non_ignored_count

KERNEL_NAME = "sigmoid_focal_fwd"

# The kernel walks the elements in REDUCE_CHUNK-element steps dealt to `streams` streams
# (kernels/reduce.py); a program runs BLOCK / REDUCE_CHUNK streams, so the grid is
# streams * REDUCE_CHUNK / BLOCK programs.  2048 streams keep an H100 / H200 full (8192 warps
# of the 4-warp configs for 132 SMs) and give 2048 partial sums; a stream count that is a
# multiple of the largest BLOCK / REDUCE_CHUNK (4) serves every config.
MAX_STREAMS = 2048
STREAM_MULTIPLE = max(block for block, _ in tuning.ELEMENTWISE_CONFIGS) // REDUCE_CHUNK.value


def stream_count(n: int) -> int:
    """The streams of an n-element walk: set by n alone, never by the config, so the partial sums
    (one per stream) and their order are the same whatever config runs."""
    steps = triton.cdiv(n, REDUCE_CHUNK.value)
    return triton.cdiv(min(steps, MAX_STREAMS), STREAM_MULTIPLE) * STREAM_MULTIPLE


def _launch(n: int, dtypes: tuple[torch.dtype, torch.dtype], arguments: dict[str, Any]) -> None:
    """Launches the element-wise kernel over n elements with the shipped config for (bucket,
    dtypes) on this GPU, or through the autotuner.  Nothing read afterwards depends on the
    config that ran (one partial sum per stream), so concurrent calls from several threads
    cannot mix up their sizes."""
    autotuner = tuning.SIGMOID_AUTOTUNER
    config = tuning.elementwise_config(KERNEL_NAME, arguments["x_ptr"], n, dtypes)
    streams = arguments["streams"]
    if config is None:
        with autotuning_lock():
            autotuner[lambda meta: (streams * REDUCE_CHUNK.value // meta["BLOCK"],)](**arguments)
            best = autotuner.best_config  # for the record only (nothing is recorded outside recording_launches)
        timings = getattr(autotuner, "configs_timings", None) or {}
        ms = timings.get(best)
        tuning.record_launch(
            KERNEL_NAME,
            {"BLOCK": best.kwargs["BLOCK"], "num_warps": best.num_warps},
            "autotuned",
            ms[0] if isinstance(ms, (list, tuple)) else ms,
        )
    else:
        block, warps = config
        autotuner.fn[(streams * REDUCE_CHUNK.value // block,)](**arguments, BLOCK=block, num_warps=warps)
        tuning.record_launch(KERNEL_NAME, {"BLOCK": block, "num_warps": warps}, "shipped")


def sigmoid_focal_forward(
    inputs: Tensor, targets: Tensor, options: BinaryOptions, need_grad: bool, loss_dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """Runs the fused sigmoid kernel over logits and targets of one shape: integer labels (nonzero
    is positive; labels equal to ``options.ignore_index``, when it is a value of their dtype,
    contribute nothing and leave the 'mean' denominator) or soft targets
    (``options.soft_targets``; the varifocal and quality focal losses take these).

    Returns (loss, grad): loss has the shape of ``inputs`` for 'none' and is a 0-d tensor
    otherwise, in ``loss_dtype``; grad is dL/dx (already divided by the denominator) in
    ``grad_buffer_dtype`` when ``need_grad``, else None.
    """
    x = inputs.contiguous()
    t = targets.contiguous()
    labels = not options.soft_targets
    ignore = labels and ignore_index_applies(t.dtype, options.ignore_index)
    if t.dtype == torch.bool:
        t = t.view(torch.uint8)  # same bytes, no copy
    n = x.numel()
    grad = torch.empty_like(x, dtype=grad_buffer_dtype(x.dtype)) if need_grad else None
    reduce = options.reduce
    denominator = loss_denominator(
        options.reduction,
        options.normalizer,
        options.normalizer_tensor,
        lambda: non_ignored_count(t, options.ignore_index) if ignore else Denominator(float(n)),
    )
    if n == 0:
        empty = (
            empty_reduction(options.reduction, loss_dtype, x.device, denominator)
            if reduce
            else torch.empty_like(x, dtype=loss_dtype)
        )
        return empty, grad
    streams = stream_count(n)
    partials = torch.empty(streams, dtype=accumulator_dtype(x.dtype), device=x.device) if reduce else None
    loss = None if reduce else torch.empty_like(x, dtype=loss_dtype)
    _launch(
        n,
        (x.dtype, t.dtype),
        dict(
            x_ptr=x,
            t_ptr=t,
            loss_ptr=loss,  # None where an output is not written
            partial_ptr=partials,
            grad_ptr=grad,
            n=n,
            streams=streams,
            **binary_loss_arguments(options),
            **denominator.kernel_arguments(),
            **flat_operand(options.alpha_per_class, x.shape).kernel_arguments("alpha"),
            **flat_operand(options.pos_weight_tensor, x.shape).kernel_arguments("pos_weight"),
            **flat_operand(options.weight, x.shape).kernel_arguments("weight"),
            ignore_label=options.ignore_index if ignore else 0,
            size_bucket=tuning.size_bucket(n),
            HARD_LABELS=labels,
            IGNORE=ignore,
            REDUCE=reduce,
            WRITE_GRAD=need_grad,
            COMPUTE=compute_dtype(x.dtype),
        ),
    )
    if loss is not None:
        return loss, grad
    assert partials is not None  # 'mean' / 'sum' wrote partial sums
    return finish_reduction(partials, streams, denominator, loss_dtype), grad
