"""The input contract of every focal_triton entry point, checked before any kernel runs.

Each error names the argument, what was expected and what was given.  Nothing
here reads tensor values (that would be a host-device sync).
"""

import typing
from collections.abc import Sequence
from numbers import Real
from typing import Any, Literal, get_args

import torch
import torch.autograd.forward_ad as forward_ad
from torch import Tensor

from ._dtypes import accumulator_dtype
from ._options import BinaryOptions, SoftmaxOptions

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Numbers reach the kernels as float32 (plus a float64 remainder, _kernel_args.float64_parts): one
# beyond float32's range would become inf there, so it is refused on every backend.
FLOAT32_MAX = 3.4028234663852886e38
IN_FLOAT32 = f" (numbers are taken within float32's range: magnitude at most {FLOAT32_MAX:.8g})"

LOGIT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
SAME_SHAPE_TARGET_DTYPES = (
    torch.float32,
    torch.float16,
    torch.bfloat16,
    torch.float64,
    torch.bool,
    torch.uint8,
    torch.int32,
    torch.int64,
)
Reduction = Literal["none", "mean", "sum"]
REDUCTIONS = get_args(Reduction)


def _names(dtypes: tuple[torch.dtype, ...]) -> str:
    return ", ".join(str(d).replace("torch.", "") for d in dtypes)


def check_tensor(name: str, value: object) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {value.layout}; call .to_dense() first")
    check_untransformed(name, value)


def check_untransformed(name: str, value: Tensor) -> None:
    """A tensor argument under a torch.func transform (vmap, grad, jvp, ...) or carrying a
    forward-mode AD tangent is refused: the kernels would drop its batch dim or its tangent."""
    if torch.compiler.is_compiling():
        return  # check_call_context refuses a transform or a forward-AD level around a traced call
    if torch._C._functorch.is_functorch_wrapped_tensor(value):
        raise _transform_error(name)
    if forward_ad._current_level >= 0 and forward_ad.unpack_dual(value).tangent is not None:
        raise _forward_ad_error(name)


def _transform_error(name: str) -> RuntimeError:
    return RuntimeError(
        f"focal_triton does not support torch.func transforms (grad, vjp, jvp, vmap, jacrev, ...), got {name} "
        "under one: the gradient comes from a Triton kernel; use torch.autograd.grad or loss.backward()"
    )


def _forward_ad_error(name: str) -> RuntimeError:
    return RuntimeError(
        f"focal_triton does not support forward-mode AD (dual tensors from torch.autograd.forward_ad), got {name} "
        "under it; use reverse mode (loss.backward() or torch.autograd.grad)"
    )


def check_no_grad_needed(name: str, value: Tensor) -> None:
    """A tensor focal_triton computes no gradient for must not require one (it would be dropped)."""
    if value.requires_grad and torch.is_grad_enabled():
        raise ValueError(
            f"{name} requires grad, but focal_triton computes no gradient with respect to {name}; pass {name}.detach()"
        )


def _is_number(value: object) -> bool:
    """A real number: int / float (not bool), or a symbolic one under torch.compile(dynamic=True)."""
    return (isinstance(value, (Real, torch.SymInt, torch.SymFloat))) and not isinstance(value, bool)


def scalar_value(name: str, value: Any) -> Any:
    """A 0-d tensor given for a number (common in configs) read as a Python number: a CPU one
    costs no device sync; one on a GPU would, and is refused.  Anything else is returned as is."""
    if isinstance(value, torch.Tensor) and value.dim() == 0:
        check_untransformed(name, value)
        check_no_grad_needed(name, value)
        if value.device.type != "cpu":
            raise TypeError(
                f"{name} must be a Python number or a 0-d CPU tensor, got a 0-d tensor on {value.device} "
                "(reading it would be a host-device sync)"
            )
        return value.item()
    return value


def _is_finite(value: Any) -> bool:
    """Finite and within float32's range (see FLOAT32_MAX)."""
    # comparisons instead of math.isfinite, which symbolic floats do not support
    return value == value and abs(value) <= FLOAT32_MAX


def check_logits(inputs: Tensor) -> None:
    check_tensor("inputs", inputs)
    if inputs.dtype not in LOGIT_DTYPES:
        raise TypeError(f"inputs must be a floating tensor ({_names(LOGIT_DTYPES)}), got dtype {inputs.dtype}")


def check_same_shape_targets(inputs: Tensor, targets: Tensor) -> None:
    check_tensor("targets", targets)
    if targets.shape != inputs.shape:
        raise ValueError(f"targets must have the shape of inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}")
    if targets.dtype not in SAME_SHAPE_TARGET_DTYPES:
        raise TypeError(f"targets must have dtype {_names(SAME_SHAPE_TARGET_DTYPES)}, got {targets.dtype}")
    check_same_device(inputs, targets)


def check_same_device(inputs: Tensor, targets: Tensor) -> None:
    if targets.device != inputs.device:
        raise ValueError(f"targets must be on the device of inputs ({inputs.device}), got {targets.device}")


def check_gamma(gamma: Any) -> float:
    gamma = scalar_value("gamma", gamma)
    if not _is_number(gamma) or not _is_finite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}{IN_FLOAT32}")
    return float(gamma)


def check_binary_alpha(alpha: Any) -> float | None:
    """Returns the alpha factor as a float, or None when alpha_t is dropped (None or alpha < 0)."""
    alpha = scalar_value("alpha", alpha)
    if alpha is None:
        return None
    if isinstance(alpha, (list, tuple, torch.Tensor)):
        raise TypeError(f"alpha must be None or one number here, got {type(alpha).__name__}")
    if not _is_number(alpha) or not _is_finite(alpha) or alpha > 1:
        raise ValueError(f"alpha must be None or a number <= 1 (negative: no alpha factor), got {alpha!r}")
    return float(alpha) if alpha >= 0 else None


def check_reduction(reduction: object) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")


def check_sigmoid_args(
    inputs: Tensor,
    targets: Tensor,
    alpha: Any,
    gamma: Any,
    reduction: str,
    ignore_index: Any,
    weight: Any = None,
    normalizer: Any = None,
    label_smoothing: Any = 0.0,
    pos_weight: Any = None,
    activated: Any = False,
    poly_epsilon: Any = 0.0,
) -> BinaryOptions:
    """Validates sigmoid_focal_loss arguments with same-shape targets."""
    check_logits(inputs)
    check_call_context(inputs, targets)
    check_same_shape_targets(inputs, targets)
    return _sigmoid_options(
        inputs,
        targets,
        alpha,
        gamma,
        reduction,
        ignore_index,
        weight,
        normalizer,
        label_smoothing,
        pos_weight,
        activated,
        poly_epsilon,
    )


def _sigmoid_options(
    inputs: Tensor,
    targets: Tensor,
    alpha: Any,
    gamma: Any,
    reduction: str,
    ignore_index: Any,
    weight: Any,
    normalizer: Any,
    label_smoothing: Any,
    pos_weight: Any,
    activated: Any,
    poly_epsilon: Any,
    stacked: bool = False,
) -> BinaryOptions:
    check_reduction(reduction)
    activated = check_activated(activated)
    alpha, alpha_per_class = check_sigmoid_alpha(alpha, inputs)
    normalizer, normalizer_tensor = check_normalizer(normalizer, reduction, inputs, stacked)
    pos_weight, pos_weight_tensor = check_pos_weight(pos_weight, inputs, activated)
    poly_epsilon = check_poly_epsilon(poly_epsilon, pos_weight is not None or pos_weight_tensor is not None)
    return BinaryOptions(
        reduction=reduction,
        weight=check_weight(weight, inputs.shape, inputs),
        normalizer=normalizer,
        normalizer_tensor=normalizer_tensor,
        soft_targets=inputs.shape == targets.shape and targets.is_floating_point(),
        alpha=alpha,
        alpha_per_class=alpha_per_class,
        gamma=check_gamma(gamma),
        ignore_index=check_ignore_index(ignore_index),
        label_smoothing=check_label_smoothing(label_smoothing),
        pos_weight=pos_weight,
        pos_weight_tensor=pos_weight_tensor,
        activated=activated,
        poly_epsilon=poly_epsilon,
        stacked=stacked,
    )


CLASS_TARGET_DTYPES = (torch.int64, torch.int32, torch.uint8)


def check_class_logits(inputs: Tensor) -> None:
    check_logits(inputs)
    if inputs.dim() < 2 or inputs.shape[1] < 1:
        raise ValueError(f"inputs must have shape (N, C) or (N, C, d1, ...) with C >= 1, got {tuple(inputs.shape)}")


def check_class_targets(inputs: Tensor, targets: Tensor) -> None:
    """targets: class indices of shape (N, d1, ...) for inputs of shape (N, C, d1, ...)."""
    check_tensor("targets", targets)
    expected = (inputs.shape[0], *inputs.shape[2:])
    if tuple(targets.shape) != expected:
        raise ValueError(
            f"targets must hold one class index per position, shape {expected} for inputs "
            f"{tuple(inputs.shape)}, got {tuple(targets.shape)}"
        )
    if targets.dtype not in CLASS_TARGET_DTYPES:
        raise TypeError(f"targets must be class indices of dtype {_names(CLASS_TARGET_DTYPES)}, got {targets.dtype}")
    check_same_device(inputs, targets)


def check_ignore_index(ignore_index: Any) -> int:
    """An int (a SymInt, standing for one, under torch.compile(dynamic=True)) within int64."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, torch.SymInt)):
        raise TypeError(f"ignore_index must be an int, got {ignore_index!r}")
    if not INT64_MIN <= ignore_index <= INT64_MAX:
        raise ValueError(f"ignore_index must fit in int64 [-2**63, 2**63 - 1], got {ignore_index}")
    return typing.cast(int, ignore_index)


def check_targets_in_range(targets: Tensor, num_classes: int, ignore_index: int) -> None:
    """Class indices outside [0, C) that are not ignore_index are an error.  Only
    CPU tensors are checked here: a CUDA check would need a host-device sync
    (on the GPU such a position gives a NaN loss instead), and nothing is checked
    under torch.compile (a data-dependent branch would break the graph)."""
    if targets.device.type != "cpu" or targets.numel() == 0 or torch.compiler.is_compiling():
        return
    wide = targets.to(torch.int64)
    bad = (wide != ignore_index) & ((wide < 0) | (wide >= num_classes))
    if bool(bad.any()):
        raise ValueError(
            f"targets must be class indices in [0, {num_classes}) or ignore_index={ignore_index}, "
            f"got {int(wide[bad][0])}"
        )


def check_class_alpha(alpha: Any, num_classes: int, inputs: Tensor) -> tuple[float | None, Tensor | None]:
    """Multiclass alpha: None, one number in [0, 1] for every class, or C per-class
    weights >= 0 (a sequence, or a 1-D floating tensor on the device of inputs).
    Returns (one factor: float or None, per-class weights: a tensor in the accumulator
    dtype of inputs or None), at most one of them not None."""
    alpha = scalar_value("alpha", alpha)
    if alpha is None or _is_number(alpha):
        return check_unit_alpha(alpha), None
    accumulate = accumulator_dtype(inputs.dtype)
    if isinstance(alpha, (list, tuple)):
        check_class_weight_values(alpha)
        alpha = torch.tensor(alpha, dtype=accumulate, device=inputs.device)
    elif isinstance(alpha, torch.Tensor):
        if not alpha.is_floating_point() or alpha.dim() != 1:
            raise TypeError(
                f"alpha must be a 1-D floating tensor of class weights, got {alpha.dtype} of shape {tuple(alpha.shape)}"
            )
        if alpha.device != inputs.device:
            raise ValueError(f"alpha must be on the device of inputs ({inputs.device}), got {alpha.device}")
        check_untransformed("alpha", alpha)
    else:
        raise TypeError(f"alpha must be None, a number, a sequence or a tensor, got {type(alpha).__name__}")
    if alpha.numel() != num_classes:
        raise ValueError(f"alpha must have one weight per class ({num_classes}), got {alpha.numel()}")
    check_no_grad_needed("alpha", alpha)
    return None, alpha.to(accumulate).contiguous()


def check_unit_alpha(alpha: Any) -> float | None:
    """Multiclass alpha as one factor for every class: None, or a number in [0, 1] (returned as a float)."""
    if alpha is None:
        return None
    if not _is_number(alpha) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1], or one weight per class, got {alpha!r}")
    return float(alpha)


def check_loss_options(gamma: Any, reduction: object, ignore_index: Any) -> None:
    """gamma, reduction and ignore_index as every loss takes them (the modules check them at construction)."""
    check_gamma(gamma)
    check_reduction(reduction)
    check_ignore_index(ignore_index)


def class_weights_buffer(values: Any, name: str, unit: bool) -> Tensor:
    """Per-class values given to a module (a sequence or a tensor) as a 1-D float64 tensor (so that
    float64 logits get them unrounded, as a number; each call takes them in its logits' precision),
    its values checked once at construction: finite and >= 0, and <= 1 with ``unit``."""
    weights = torch.as_tensor(values, dtype=torch.float64).detach()
    if weights.dim() != 1:
        raise ValueError(f"{name} must be one value per class (1-D), got shape {tuple(weights.shape)}")
    host = weights.cpu().tolist()  # read once, at construction
    check_class_weight_values(host)
    if unit and not all(value <= 1 for value in host):
        raise ValueError(f"{name} must hold per-class values in [0, 1], got {host!r}")
    return weights


def check_class_weight_values(alpha: Sequence[Any]) -> None:
    """Host-side values of per-class weights (a sequence): each a finite number >= 0."""
    if not all(_is_number(a) and _is_finite(a) and a >= 0 for a in alpha):
        raise ValueError(f"alpha must hold finite class weights >= 0, got {list(alpha)!r}{IN_FLOAT32}")


def check_softmax_args(
    inputs: Tensor,
    targets: Tensor,
    alpha: Any,
    gamma: Any,
    reduction: str,
    ignore_index: Any,
    weight: Any = None,
    normalizer: Any = None,
    label_smoothing: Any = 0.0,
) -> SoftmaxOptions:
    """Validates softmax_focal_loss arguments.  Floating targets of the logits' shape are target
    probabilities (soft targets); integer targets are class indices."""
    check_class_logits(inputs)
    check_call_context(inputs, targets)
    check_reduction(reduction)
    ignore_index = check_ignore_index(ignore_index)
    if isinstance(targets, torch.Tensor) and targets.is_floating_point():
        check_tensor("targets", targets)
        if targets.shape != inputs.shape:
            raise ValueError(
                f"floating targets are target probabilities of the shape of inputs {tuple(inputs.shape)}, got "
                f"{tuple(targets.shape)} (class indices are integer tensors of shape (N, d1, ...))"
            )
        check_same_device(inputs, targets)
    else:
        check_class_targets(inputs, targets)
        check_targets_in_range(targets, inputs.shape[1], ignore_index)
    rows_shape = (inputs.shape[0], *inputs.shape[2:])
    alpha, alpha_per_class = check_class_alpha(alpha, inputs.shape[1], inputs)
    normalizer, normalizer_tensor = check_normalizer(normalizer, reduction, inputs)
    return SoftmaxOptions(
        reduction=reduction,
        weight=check_weight(weight, rows_shape, inputs),
        normalizer=normalizer,
        normalizer_tensor=normalizer_tensor,
        soft_targets=targets.is_floating_point(),
        alpha=alpha,
        alpha_per_class=alpha_per_class,
        gamma=check_gamma(gamma),
        ignore_index=ignore_index,
        label_smoothing=check_label_smoothing(label_smoothing),
    )


def is_class_index_form(inputs: object, targets: object) -> bool:
    """sigmoid_focal_loss takes (N, C, *) logits with integer (N, *) targets as an implicit one-hot."""
    return (
        isinstance(inputs, torch.Tensor)
        and isinstance(targets, torch.Tensor)
        and targets.dim() == inputs.dim() - 1
        and not targets.is_floating_point()
        and targets.dtype != torch.bool
    )


def check_sigmoid_index_args(
    inputs: Tensor,
    targets: Tensor,
    alpha: Any,
    gamma: Any,
    reduction: str,
    ignore_index: Any,
    weight: Any = None,
    normalizer: Any = None,
    label_smoothing: Any = 0.0,
    pos_weight: Any = None,
    activated: Any = False,
    poly_epsilon: Any = 0.0,
    stacked: bool = False,
) -> BinaryOptions:
    """Validates sigmoid_focal_loss arguments with class-index targets (``stacked``: the (L, C, R)
    view of stacked sets, focal_triton/_stacked.py)."""
    check_class_logits(inputs)
    check_call_context(inputs, targets)
    if inputs.shape[1] == 1:
        raise ValueError(
            f"inputs of shape {tuple(inputs.shape)} with integer targets of shape {tuple(targets.shape)} are read "
            "as C = 1 class with class-index targets, where 1 would mean background; for binary 0/1 labels "
            f"pass targets of the shape of inputs (e.g. targets.view({tuple(inputs.shape)}).bool())"
        )
    check_class_targets(inputs, targets)
    return _sigmoid_options(
        inputs,
        targets,
        alpha,
        gamma,
        reduction,
        ignore_index,
        weight,
        normalizer,
        label_smoothing,
        pos_weight,
        activated,
        poly_epsilon,
        stacked,
    )


def check_call_context(inputs: Tensor, targets: object) -> None:
    """What the fused kernels cannot serve, refused at the call instead of failing deep inside or
    silently dropping a gradient: a gradient of the targets, forward-mode AD, torch.func
    transforms and torch.jit.trace."""
    if isinstance(targets, torch.Tensor) and targets.requires_grad and torch.is_grad_enabled():
        raise ValueError(
            "targets requires grad, but focal_triton computes no gradient with respect to targets; "
            "pass targets.detach()"
        )
    if torch.compiler.is_compiling():
        # traced: the tensors are fake, but a transform around the call shows (a forward-AD level
        # is served: _registry traces the eager reference there, whose tangent is exact)
        if torch._C._functorch.maybe_current_level() is not None:
            raise _transform_error("inputs")
        return
    if torch.jit.is_tracing():
        raise RuntimeError("focal_triton does not support torch.jit.trace; use torch.compile (or call it eagerly)")
    check_untransformed("inputs", inputs)


def check_stacked_sets(inputs: Tensor, targets: Tensor, operands: dict[str, object]) -> None:
    """stacked=True: (L, R, C) logits, (L, R) integer class indices, and each tensor operand
    (weight, pos_weight) broadcastable to the logits."""
    check_logits(inputs)
    if inputs.dim() != 3:
        raise ValueError(
            "stacked=True takes the logits of L sets of R rows of C classes, (L, R, C) (decoder outputs "
            f"(L, B, Q, C) as .flatten(1, 2)), got shape {tuple(inputs.shape)}"
        )
    check_tensor("targets", targets)
    if targets.is_floating_point() or targets.dtype == torch.bool or targets.shape != inputs.shape[:2]:
        raise ValueError(
            f"stacked=True takes class indices (L, R) = {tuple(inputs.shape[:2])} (with scores= where the loss "
            f"takes them), got a {targets.dtype} tensor of shape {tuple(targets.shape)}"
        )
    for name, value in operands.items():
        if isinstance(value, torch.Tensor):
            _check_operand_tensor(name, value, inputs.shape, inputs, "the stacked logits")


# ----------------------------------------------------------------------------- the options of detection heads
def _check_operand_tensor(name: str, value: Any, shape: Sequence[int], inputs: Tensor, what: str) -> Tensor:
    """A floating tensor on the device of inputs, broadcastable to ``shape`` (``what`` names that
    shape in the message), needing no gradient."""
    _check_floating_tensor(name, value)
    if value.device != inputs.device:
        raise ValueError(f"{name} must be on the device of inputs ({inputs.device}), got {value.device}")
    try:
        broadcast = torch.broadcast_shapes(value.shape, shape)
    except RuntimeError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(f"{name} must be broadcastable to {what} {tuple(shape)}, got shape {tuple(value.shape)}")
    check_no_grad_needed(name, value)
    return value


def _check_floating_tensor(name: str, value: Any) -> None:
    check_tensor(name, value)
    if not value.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got dtype {value.dtype}")


def check_weight(weight: Any, loss_shape: Sequence[int], inputs: Tensor) -> Tensor | None:
    """weight: None, or a floating tensor broadcastable to the 'none' loss, read in place."""
    if weight is None:
        return None
    return _check_operand_tensor("weight", weight, loss_shape, inputs, "the loss of reduction='none'")


def check_normalizer(
    normalizer: Any, reduction: str, inputs: Tensor, stacked: bool = False
) -> tuple[float | None, Tensor | None]:
    """normalizer: None, a number >= 0, or a 0-d tensor (floating or integer) on the device of inputs
    (a 0-d CPU tensor beside GPU inputs is read as a number: no sync); for ``stacked`` sets also an
    (L,) tensor on the device, one a set.  Returns (number or None, tensor or None); only with
    reduction='mean'."""
    if normalizer is None:
        return None, None
    if reduction != "mean":
        raise ValueError(
            f"normalizer is the denominator of reduction='mean' (sum(weight * loss) / normalizer), "
            f"got normalizer with reduction={reduction!r}"
        )
    if isinstance(normalizer, torch.Tensor):
        one_a_set = stacked and normalizer.shape == inputs.shape[:1]
        if not (normalizer.dim() == 0 or one_a_set) or normalizer.dtype == torch.bool or normalizer.is_complex():
            sets = f", or of shape {tuple(inputs.shape[:1])} (one a stacked set)" if stacked else ""
            raise ValueError(
                f"normalizer must be a number or a 0-d real tensor{sets}, got a {normalizer.dtype} tensor of shape "
                f"{tuple(normalizer.shape)}"
            )
        check_untransformed("normalizer", normalizer)
        check_no_grad_needed("normalizer", normalizer)
        if normalizer.device != inputs.device:
            if normalizer.device.type != "cpu" or normalizer.dim():
                raise ValueError(
                    f"normalizer must be on the device of inputs ({inputs.device}), got {normalizer.device}"
                )
            normalizer = normalizer.item()  # a CPU number beside GPU inputs: no device sync
        else:
            return None, normalizer
    if not _is_number(normalizer) or not _is_finite(normalizer) or normalizer < 0:
        raise ValueError(f"normalizer must be a finite number >= 0 or a 0-d tensor, got {normalizer!r}{IN_FLOAT32}")
    return float(normalizer), None


def check_label_smoothing(label_smoothing: Any) -> float:
    label_smoothing = scalar_value("label_smoothing", label_smoothing)
    if not _is_number(label_smoothing) or not 0 <= label_smoothing <= 1:
        raise ValueError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    return float(label_smoothing)


def check_activated(activated: object) -> bool:
    if not isinstance(activated, bool):
        raise TypeError(f"activated must be a bool, got {activated!r}")
    return activated


def check_poly_epsilon(poly_epsilon: Any, has_pos_weight: bool) -> float:
    """The Poly-1 coefficient: a finite number (any sign; 0: the focal loss), and not with
    pos_weight, whose positive term the Poly-1 term has no counterpart of."""
    poly_epsilon = scalar_value("poly_epsilon", poly_epsilon)
    if not _is_number(poly_epsilon) or not _is_finite(poly_epsilon):
        raise ValueError(f"poly_epsilon must be a finite number, got {poly_epsilon!r}{IN_FLOAT32}")
    if poly_epsilon != 0 and has_pos_weight:
        raise ValueError(
            "poly_epsilon adds eps * (1 - p_t) to BCE, which has no pos_weight term to match: pass one of "
            "poly_epsilon and pos_weight, not both"
        )
    return float(poly_epsilon)


def check_pos_weight(pos_weight: Any, inputs: Tensor, activated: bool) -> tuple[float | None, Tensor | None]:
    """pos_weight: None, a finite number, or a floating tensor broadcastable to inputs (as
    F.binary_cross_entropy_with_logits).  Returns (number or None, tensor or None)."""
    pos_weight = check_pos_weight_value(pos_weight, activated)
    if isinstance(pos_weight, torch.Tensor):
        return None, _check_operand_tensor("pos_weight", pos_weight, inputs.shape, inputs, "inputs")
    return pos_weight, None


def check_pos_weight_value(pos_weight: Any, activated: bool) -> float | Tensor | None:
    """pos_weight without the inputs (as a module takes it): None, a finite number (returned as a
    float) or a floating tensor (returned as is), and not with ``activated``."""
    pos_weight = scalar_value("pos_weight", pos_weight)
    if pos_weight is None:
        return None
    if activated:
        raise ValueError(
            "pos_weight weights the positive term of BCE with logits; with activated=True (probability inputs, "
            "F.binary_cross_entropy) there is none: leave pos_weight=None or use weight="
        )
    if isinstance(pos_weight, torch.Tensor):
        _check_floating_tensor("pos_weight", pos_weight)
        return pos_weight
    if not _is_number(pos_weight) or not _is_finite(pos_weight):
        raise ValueError(f"pos_weight must be a finite number or a tensor, got {pos_weight!r}{IN_FLOAT32}")
    return float(pos_weight)


def check_sigmoid_alpha(alpha: Any, inputs: Tensor) -> tuple[float | None, Tensor | None]:
    """Sigmoid alpha: None / a number (as check_binary_alpha), or C per-class values in [0, 1] along
    dim 1 of (N, C, *) inputs (a sequence, or a 1-D floating tensor on the device of inputs).
    Returns (number or None, tensor or None): the tensor of shape (C, 1, ..., 1), broadcastable
    to inputs, in their accumulator dtype."""
    value = scalar_value("alpha", alpha)
    if not isinstance(value, (list, tuple, torch.Tensor)):
        return check_binary_alpha(value), None
    if inputs.dim() < 2:
        raise ValueError(
            f"alpha with one value per class applies along dim 1 of (N, C, ...) inputs, got inputs of shape "
            f"{tuple(inputs.shape)}"
        )
    if isinstance(value, (list, tuple)) and not all(_is_number(a) and 0 <= a <= 1 for a in value):
        raise ValueError(f"alpha must hold per-class values in [0, 1], got {list(value)!r}")
    _, per_class = check_class_alpha(value, inputs.shape[1], inputs)
    assert per_class is not None  # a sequence or a tensor is per-class values
    return None, per_class.reshape(-1, *([1] * (inputs.dim() - 2)))


# ----------------------------------------------------------------------------- the focal family (VFL, QFL, DFL)
def _check_quality_form(inputs: Tensor, targets: Tensor, scores: Tensor | None) -> bool:
    """VFL / QFL targets: floating of the logits' shape (dense soft targets; ``scores`` must be None),
    or integer class indices of shape (N, d1, ...) for (N, C, d1, ...) logits with ``scores``, a
    floating tensor of the targets' shape.  Returns True for the class-index form."""
    check_tensor("targets", targets)
    if targets.is_floating_point():
        if targets.shape != inputs.shape:
            raise ValueError(
                f"floating targets are soft targets of the shape of inputs {tuple(inputs.shape)}, got "
                f"{tuple(targets.shape)} (class indices are integer tensors of shape (N, d1, ...), with scores=)"
            )
        if scores is not None:
            raise ValueError(
                "scores= goes with class-index targets; soft targets of the logits' shape carry their scores themselves"
            )
        check_same_device(inputs, targets)
        return False
    check_class_logits(inputs)
    check_class_targets(inputs, targets)
    if scores is None:
        raise ValueError(
            "class-index targets need scores= (N, d1, ...): the target (e.g. the IoU) at each row's class; "
            "or pass soft targets of the logits' shape"
        )
    check_tensor("scores", scores)
    if not scores.is_floating_point() or scores.shape != targets.shape:
        raise ValueError(
            f"scores must be a floating tensor of the targets' shape {tuple(targets.shape)}, got "
            f"{scores.dtype} of shape {tuple(scores.shape)}"
        )
    if scores.device != inputs.device:
        raise ValueError(f"scores must be on the device of inputs ({inputs.device}), got {scores.device}")
    check_no_grad_needed("scores", scores)
    return True


def check_nonnegative(name: str, value: Any) -> float:
    value = scalar_value(name, value)
    if not _is_number(value) or not _is_finite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}{IN_FLOAT32}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def _check_scored_form(inputs: Tensor, targets: Tensor, reduction: str, scores: Tensor | None) -> bool:
    """The checks every loss of VFL's target forms makes first; returns True for the class-index form."""
    check_logits(inputs)
    check_call_context(inputs, targets)
    index_form = _check_quality_form(inputs, targets, scores)
    check_reduction(reduction)
    return index_form


def _scored_options(
    inputs: Tensor,
    index_form: bool,
    reduction: str,
    scores: Tensor | None,
    ignore_index: Any,
    weight: Any,
    normalizer: Any,
    stacked: bool,
    **fields: Any,
) -> BinaryOptions:
    """The options record of a loss of VFL's target forms; ``fields``: its own, already checked."""
    normalizer, normalizer_tensor = check_normalizer(normalizer, reduction, inputs, stacked)
    return BinaryOptions(
        reduction=reduction,
        weight=check_weight(weight, inputs.shape, inputs),
        normalizer=normalizer,
        normalizer_tensor=normalizer_tensor,
        soft_targets=not index_form,
        ignore_index=check_ignore_index(ignore_index),
        scores=scores,
        stacked=stacked,
        **fields,
    )


def check_varifocal_args(
    inputs: Tensor,
    targets: Tensor,
    alpha: Any,
    gamma: Any,
    reduction: str,
    scores: Tensor | None,
    detach_weight: Any,
    ignore_index: Any,
    weight: Any,
    normalizer: Any,
    stacked: bool = False,
) -> tuple[bool, BinaryOptions]:
    """Validates varifocal_loss arguments; returns (class-index form?, the options)."""
    index_form = _check_scored_form(inputs, targets, reduction, scores)
    return index_form, _scored_options(
        inputs,
        index_form,
        reduction,
        scores,
        ignore_index,
        weight,
        normalizer,
        stacked,
        loss="varifocal",
        alpha=check_nonnegative("alpha", alpha),
        gamma=check_gamma(gamma),
        detach_weight=check_bool("detach_weight", detach_weight),
    )


def check_matchability_gamma(gamma: Any) -> float:
    """The matchability-aware loss's gamma: > 0 (it is the exponent of its target too)."""
    gamma = check_gamma(gamma)
    if gamma == 0:
        raise ValueError(
            "gamma must be > 0 for the matchability-aware loss, got 0 (its target q ** gamma would be 1 "
            "at every matched class whatever the IoU; DEIM's own code then makes every target 1)"
        )
    return gamma


def check_ia_bce_alpha(alpha: Any) -> float:
    """The IoU-aware BCE's alpha: the exponent of the probability in its target, in [0, 1]."""
    alpha = check_nonnegative("alpha", alpha)
    if alpha > 1:
        raise ValueError(f"alpha must be in [0, 1] (the target is p ** alpha * IoU ** (1 - alpha)), got {alpha!r}")
    return alpha


def check_matchability_aware_args(
    inputs: Tensor,
    targets: Tensor,
    gamma: Any,
    alpha: Any,
    reduction: str,
    scores: Tensor | None,
    ignore_index: Any,
    weight: Any,
    normalizer: Any,
    stacked: bool = False,
) -> tuple[bool, BinaryOptions]:
    """Validates matchability_aware_loss arguments; returns (class-index form?, the options).  Its
    targets take VFL's two forms; alpha None is a factor of 1 (DEIM's mal_alpha=None)."""
    index_form = _check_scored_form(inputs, targets, reduction, scores)
    gamma = check_matchability_gamma(gamma)
    alpha = scalar_value("alpha", alpha)
    return index_form, _scored_options(
        inputs,
        index_form,
        reduction,
        scores,
        ignore_index,
        weight,
        normalizer,
        stacked,
        loss="matchability_aware",
        alpha=1.0 if alpha is None else check_nonnegative("alpha", alpha),
        gamma=gamma,
        detach_weight=True,
    )


def check_ia_bce_args(
    inputs: Tensor,
    targets: Tensor,
    alpha: Any,
    gamma: Any,
    reduction: str,
    scores: Tensor | None,
    ignore_index: Any,
    weight: Any,
    normalizer: Any,
    stacked: bool = False,
) -> tuple[bool, BinaryOptions]:
    """Validates ia_bce_loss arguments; returns (class-index form?, the options).  Its targets take
    VFL's two forms; alpha, the exponent of the probability in the matched target, is in [0, 1]."""
    index_form = _check_scored_form(inputs, targets, reduction, scores)
    alpha = check_ia_bce_alpha(alpha)
    return index_form, _scored_options(
        inputs,
        index_form,
        reduction,
        scores,
        ignore_index,
        weight,
        normalizer,
        stacked,
        loss="ia_bce",
        alpha=alpha,
        gamma=check_gamma(gamma),
    )


def check_quality_focal_args(
    inputs: Tensor,
    targets: Tensor,
    beta: Any,
    reduction: str,
    scores: Tensor | None,
    ignore_index: Any,
    activated: Any,
    weight: Any,
    normalizer: Any,
) -> BinaryOptions:
    """Validates quality_focal_loss arguments.  The loss is one value per row (summed over
    classes), so ``weight`` broadcasts to (N, d1, ...)."""
    check_class_logits(inputs)
    check_call_context(inputs, targets)
    index_form = _check_quality_form(inputs, targets, scores)
    check_reduction(reduction)
    rows_shape = (inputs.shape[0], *inputs.shape[2:])
    normalizer, normalizer_tensor = check_normalizer(normalizer, reduction, inputs)
    return BinaryOptions(
        reduction=reduction,
        weight=check_weight(weight, rows_shape, inputs),
        normalizer=normalizer,
        normalizer_tensor=normalizer_tensor,
        soft_targets=not index_form,
        loss="quality_focal",
        alpha=None,
        beta=check_nonnegative("beta", beta),
        ignore_index=check_ignore_index(ignore_index),
        activated=check_bool("activated", activated),
        scores=scores,
    )


def check_distribution_focal_args(
    inputs: Tensor, targets: Tensor, reduction: str, weight: Any, normalizer: Any
) -> SoftmaxOptions:
    """Validates distribution_focal_loss arguments: (N, n + 1, d1, ...) logits over n + 1 >= 2 bins and
    floating distances of shape (N, d1, ...)."""
    check_class_logits(inputs)
    check_call_context(inputs, targets)
    if inputs.shape[1] < 2:
        raise ValueError(f"inputs must have n + 1 >= 2 bins along dim 1, got shape {tuple(inputs.shape)}")
    check_tensor("targets", targets)
    rows_shape = (inputs.shape[0], *inputs.shape[2:])
    if not targets.is_floating_point() or tuple(targets.shape) != rows_shape:
        raise ValueError(
            f"targets must be floating distances in [0, {inputs.shape[1] - 1}] of shape {rows_shape} for inputs "
            f"{tuple(inputs.shape)}, got {targets.dtype} of shape {tuple(targets.shape)}"
        )
    check_same_device(inputs, targets)
    check_reduction(reduction)
    normalizer, normalizer_tensor = check_normalizer(normalizer, reduction, inputs)
    return SoftmaxOptions(
        reduction=reduction,
        weight=check_weight(weight, rows_shape, inputs),
        normalizer=normalizer,
        normalizer_tensor=normalizer_tensor,
        loss="distribution_focal",
        gamma=0.0,
    )


def check_matching_cost_args(
    logits: Tensor,
    target_labels: Tensor,
    sizes: Sequence[int],
    alpha: float,
    gamma: float,
    boxes: Tensor | None,
    target_boxes: Tensor | None,
) -> list[int]:
    """Validates detr_matching_cost arguments; returns the sizes as host ints."""
    if not isinstance(logits, Tensor) or logits.dim() != 3 or not logits.is_floating_point():
        raise ValueError(f"logits must be a floating (B, Q, C) tensor, got {getattr(logits, 'shape', type(logits))}")
    counts = [int(size) for size in sizes]
    if len(counts) != logits.shape[0] or min(counts, default=0) < 0:
        raise ValueError(f"sizes must give B = {logits.shape[0]} target counts >= 0, got {list(sizes)}")
    if (
        not isinstance(target_labels, Tensor)
        or target_labels.dim() != 1
        or target_labels.is_floating_point()
        or target_labels.numel() != sum(counts)
    ):
        raise ValueError(
            f"target_labels must be a 1-D integer tensor of sum(sizes) = {sum(counts)} classes, image after image, "
            f"got {getattr(target_labels, 'dtype', type(target_labels))} of shape "
            f"{tuple(getattr(target_labels, 'shape', ()))}"
        )
    if target_labels.device != logits.device:
        raise ValueError(f"target_labels must be on the device of logits ({logits.device}), got {target_labels.device}")
    if not 0.0 <= alpha <= 1.0 or not gamma >= 0.0:
        raise ValueError(f"alpha must be in [0, 1] and gamma >= 0, got alpha={alpha!r}, gamma={gamma!r}")
    if (boxes is None) != (target_boxes is None):
        raise ValueError("boxes and target_boxes go together: pass both (cxcywh) or neither")
    if boxes is not None and target_boxes is not None:
        if boxes.shape != (*logits.shape[:2], 4) or target_boxes.shape != (sum(counts), 4):
            raise ValueError(
                f"boxes must be (B, Q, 4) = {(*logits.shape[:2], 4)} and target_boxes (sum(sizes), 4) = "
                f"{(sum(counts), 4)}, got {tuple(boxes.shape)} and {tuple(target_boxes.shape)}"
            )
        if boxes.device != logits.device or target_boxes.device != logits.device:
            raise ValueError("boxes and target_boxes must be on the device of logits")
    return counts
