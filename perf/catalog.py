"""Every kernel x dtype x shipped config that focal_triton launches, as AOT-compilable variants.

Used by ``focal-triton report`` and by the compile test.
"""

import torch
import triton.language as tl
from focal_triton.kernels.grad_scale import scale_grad_bytes_per_element, scale_grad_kernel
from focal_triton.kernels.reduce import sum_partials_kernel
from focal_triton.kernels.sigmoid_focal import sigmoid_focal_bytes_per_element, sigmoid_focal_fwd_kernel

from focal_triton._launch import ELEMENTWISE_CONFIGS, REDUCE_BLOCK

from .aot import KernelVariant


def _size(dtype_name):
    return getattr(torch, dtype_name).itemsize


# (logits dtype, targets dtype) pairs the binary kernel is compiled for.
SIGMOID_DTYPES = (("float32", "float32"), ("bfloat16", "uint8"), ("float16", "float16"))


def sigmoid_variants(block):
    for x_dtype, t_dtype in SIGMOID_DTYPES:
        for reduce in (True, False):
            yield KernelVariant(
                name=f"sigmoid_focal_fwd[{'mean' if reduce else 'none'}+grad]",
                fn=sigmoid_focal_fwd_kernel,
                pointers={
                    "x_ptr": x_dtype,
                    "t_ptr": t_dtype,
                    "loss_ptr": x_dtype,
                    "partial_ptr": "float32",
                    "grad_ptr": x_dtype,
                },
                constexprs={
                    "HAS_ALPHA": True,
                    "HARD_LABELS": t_dtype == "uint8",
                    "REDUCE": reduce,
                    "WRITE_GRAD": True,
                    "COMPUTE": tl.float32,
                    "BLOCK": block,
                },
                ints=("n", "size_bucket"),
                floats=("alpha", "gamma", "grad_denominator"),
                dtype=f"{x_dtype}/{t_dtype}",
                bytes_per_element=sigmoid_focal_bytes_per_element(_size(x_dtype), _size(t_dtype), reduce, True),
            )


def scale_grad_variants(block):
    for dtype in ("float32", "bfloat16"):
        yield KernelVariant(
            name="scale_grad",
            fn=scale_grad_kernel,
            pointers={"grad_ptr": dtype, "grad_out_ptr": dtype, "scale_ptr": "float32"},
            constexprs={"COMPUTE": tl.float32, "BLOCK": block},
            ints=("n", "size_bucket"),
            dtype=dtype,
            bytes_per_element=scale_grad_bytes_per_element(_size(dtype)),
        )


def variants():
    """Yields (variant, num_warps) for every shipped configuration."""
    for block, warps in ELEMENTWISE_CONFIGS:
        for variant in (*sigmoid_variants(block), *scale_grad_variants(block)):
            yield variant, warps
    yield (
        KernelVariant(
            name="sum_partials",
            fn=sum_partials_kernel,
            pointers={"partial_ptr": "float32", "out_ptr": "float32", "count_ptr": "int64"},
            constexprs={"COUNT_ON_DEVICE": False, "BLOCK": REDUCE_BLOCK},
            ints=("n_partials",),
            floats=("denominator",),
            dtype="float32",
            bytes_per_element=0,  # one program over the per-program partials, not per element
        ),
        4,
    )
