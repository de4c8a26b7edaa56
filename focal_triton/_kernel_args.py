"""How host values become kernel arguments: the COMPUTE constexpr and float64 scalars."""

import struct

import triton.language as tl
import torch


def compute_dtype(dtype: torch.dtype):
    """The accumulator dtype as a Triton dtype, for the kernels' COMPUTE argument."""
    return tl.float64 if dtype == torch.float64 else tl.float32


def float64_parts(value: float) -> tuple[float, float]:
    """(value rounded to float32, the remainder): how a float64 scalar reaches a kernel
    (see kernels/stable_math.py, float64_scalar)."""
    rounded = struct.unpack("f", struct.pack("f", value))[0]
    return rounded, value - rounded


def float64_arguments(**values: float) -> dict:
    """Each float scalar as the kernels take it: ``name`` (float32) and ``name_remainder``."""
    arguments = {}
    for name, value in values.items():
        arguments[name], arguments[f"{name}_remainder"] = float64_parts(value)
    return arguments
