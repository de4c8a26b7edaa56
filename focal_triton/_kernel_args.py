"""How host values become kernel arguments: the COMPUTE and LOSS constexprs, float64 scalars (None for
an absent one: the kernels take a factor's mode from its number and its tensor)."""

import struct
from typing import Any

import torch
import triton.language as tl
from torch import Tensor

from focal_triton.kernels.quality_focal import FOCAL, IA_BCE, MATCHABILITY_AWARE, QUALITY_FOCAL, VARIFOCAL
from focal_triton.kernels.stable_math import ANY_GAMMA

from ._options import BinaryOptions

SPECIALISED_GAMMAS = (0.0, 1.0, 2.0)  # compiled with the power by multiplication (stable_math.focal_power)


def compute_dtype(dtype: torch.dtype) -> tl.dtype:
    """The accumulator dtype as a Triton dtype, for the kernels' COMPUTE argument."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def loss_constexpr(loss: str) -> tl.constexpr:
    """The binary kernels' LOSS constexpr of ``BinaryOptions.loss`` (kernels/quality_focal.py)."""
    return {
        "focal": FOCAL,
        "varifocal": VARIFOCAL,
        "quality_focal": QUALITY_FOCAL,
        "matchability_aware": MATCHABILITY_AWARE,
        "ia_bce": IA_BCE,
    }[loss]


def float64_parts(value: float) -> tuple[float, float]:
    """(value rounded to float32, the remainder): how a float64 scalar reaches a kernel
    (see kernels/stable_math.py, float64_scalar)."""
    rounded = struct.unpack("f", struct.pack("f", value))[0]
    return rounded, value - rounded


def float64_arguments(**values: float | None) -> dict:
    """Each float scalar as the kernels take it: ``name`` (float32) and ``name_remainder``; None
    for both where the number is absent (the kernels take a factor's mode from that)."""
    arguments: dict[str, float | None] = {}
    for name, value in values.items():
        parts = (None, None) if value is None else float64_parts(value)
        arguments[name], arguments[f"{name}_remainder"] = parts
    return arguments


def gamma_constexpr(gamma: float) -> int:
    """The kernels' GAMMA: gamma itself when it is 0, 1 or 2 (a variant compiled for it), else ANY_GAMMA."""
    return int(gamma) if gamma in SPECIALISED_GAMMAS else ANY_GAMMA.value


def zero_factor(
    alpha: float | None, alpha_per_class: Tensor | None, pos_weight: float | None, pos_weight_tensor: Tensor | None
) -> bool:
    """The kernels' ZERO_FACTOR: whether alpha_t * pos_weight can be 0 for a hard label (alpha 0 or 1,
    pos_weight 0, a product that underflows float32, or a tensor of them), so that 0 * an infinite
    loss must be kept at 0 (kernels/sigmoid_focal.py, hard_label_terms)."""
    if alpha_per_class is not None or pos_weight_tensor is not None:
        return True
    alpha_factors = (1.0,) if alpha is None else (alpha, 1.0 - alpha)
    positive = alpha_factors[0] * (1.0 if pos_weight is None else pos_weight)
    return min(abs(positive), abs(alpha_factors[-1])) < 1e-30


def binary_loss_arguments(options: BinaryOptions) -> dict[str, Any]:
    """The arguments both sigmoid kernels take from the options record: the loss and its scalars
    (each with its float64 remainder) and the compile-time switches of its options, so a new option
    of the binary losses is added here, not in each launcher."""
    alpha, alpha_per_class = options.alpha, options.alpha_per_class
    pos_weight, pos_weight_tensor = options.pos_weight, options.pos_weight_tensor
    return dict(
        **float64_arguments(
            alpha=alpha,
            gamma=options.exponent,
            pos_weight=pos_weight,
            label_smoothing=options.label_smoothing,
            poly_epsilon=options.poly_epsilon,
        ),
        LOSS=loss_constexpr(options.loss),
        DETACH=options.detach_weight,
        GAMMA=gamma_constexpr(options.exponent),
        SMOOTHING=options.label_smoothing != 0.0,
        ACTIVATED=options.activated,
        ZERO_FACTOR=zero_factor(alpha, alpha_per_class, pos_weight, pos_weight_tensor),
        POLY=options.poly_epsilon != 0.0,
    )
