"""The input contract of every focal_triton entry point, checked before any kernel runs.

Each error names the argument, what was expected and what was given.  Nothing
here reads tensor values (that would be a host-device sync).
"""

import math
from numbers import Real

import torch

LOGIT_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64)
SAME_SHAPE_TARGET_DTYPES = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.bool, torch.uint8)
REDUCTIONS = ("none", "mean", "sum")


def _names(dtypes):
    return ", ".join(str(d).replace("torch.", "") for d in dtypes)


def check_tensor(name, value):
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")


def check_logits(inputs):
    check_tensor("inputs", inputs)
    if inputs.dtype not in LOGIT_DTYPES:
        raise TypeError(f"inputs must be a floating tensor ({_names(LOGIT_DTYPES)}), got dtype {inputs.dtype}")


def check_same_shape_targets(inputs, targets):
    check_tensor("targets", targets)
    if targets.shape != inputs.shape:
        raise ValueError(f"targets must have the shape of inputs {tuple(inputs.shape)}, got {tuple(targets.shape)}")
    if targets.dtype not in SAME_SHAPE_TARGET_DTYPES:
        raise TypeError(f"targets must have dtype {_names(SAME_SHAPE_TARGET_DTYPES)}, got {targets.dtype}")
    check_same_device(inputs, targets)


def check_same_device(inputs, targets):
    if targets.device != inputs.device:
        raise ValueError(f"targets must be on the device of inputs ({inputs.device}), got {targets.device}")


def check_gamma(gamma):
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not math.isfinite(gamma) or gamma < 0:
        raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}")
    return float(gamma)


def check_binary_alpha(alpha):
    """Returns the alpha factor as a float, or None when alpha_t is dropped (None or alpha < 0)."""
    if alpha is None:
        return None
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or math.isnan(alpha) or alpha > 1:
        raise ValueError(f"alpha must be None or a number <= 1 (negative: no alpha factor), got {alpha!r}")
    return float(alpha) if alpha >= 0 else None


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")


def check_sigmoid_args(inputs, targets, alpha, gamma, reduction):
    """Validates sigmoid_focal_loss arguments; returns (alpha or None, gamma) as floats."""
    check_logits(inputs)
    check_same_shape_targets(inputs, targets)
    check_reduction(reduction)
    return check_binary_alpha(alpha), check_gamma(gamma)
