"""One registration per loss: a ``LossSpec`` becomes the call path for eager and torch.compile.

``RegisteredLoss(spec)`` defines one ``torch.library`` custom op, ``focal_triton::<name>``,
with its fake (shapes and dtypes) and its autograd formula; calling it is the whole dispatch:

- a tensor Triton cannot run, or a trace under forward-mode AD -> the spec's eager reference;
- under torch.compile -> the custom op (no graph break; its backward multiplies the fused
  gradient by grad_output with torch ops Inductor fuses);
- eager with a gradient needed -> ``FusedGradLoss``, which calls the launcher directly
  (no dispatcher) and whose backward scales the saved gradient in place (``_grad``);
- eager without a gradient -> the launcher alone, which then writes no gradient.

The op's schema is written from the annotations of the spec's options record (``_options``), so
nothing counts arguments by hand.
"""

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.autograd.forward_ad as forward_ad
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._backend import REFERENCE, backend_for
from ._dtypes import grad_buffer_dtype, loss_dtype_for
from ._grad import eager_backward, save_fused_grad, times_grad_output
from ._launch_lock import serialized_launches
from ._options import LossOptions, field_names, schema_arguments


@dataclass(frozen=True)
class LossSpec:
    """What makes a loss, given once.

    name: the op is ``focal_triton::<name>``.
    options: the options record the launcher and the reference take (``_options``), whose fields
        follow inputs and targets in the op's schema.
    launch: ``launch(inputs, targets, options, need_grad, loss_dtype) -> (loss, grad | None)``.
    reference: ``reference(inputs, targets, options) -> loss``, the eager fallback.
    empty_loss: ``empty_loss(inputs, targets, options, dtype)``, an empty tensor shaped and
        laid out as the launcher's loss (the op's fake).
    empty_grad: ``empty_grad(inputs, dtype)``, the same for the gradient buffer.
    row_broadcast: a 'none' loss has one value per (N, *) row while the gradient is (N, C, *).
    """

    name: str
    options: type
    launch: Callable
    reference: Callable
    empty_loss: Callable
    empty_grad: Callable
    row_broadcast: bool = False

    def schema(self) -> str:
        return (
            f"(Tensor inputs, Tensor targets{schema_arguments(self.options)}, bool need_grad, "
            "ScalarType loss_dtype) -> (Tensor, Tensor)"
        )


def per_element_loss(inputs: Tensor, targets: Tensor, options: LossOptions, dtype: torch.dtype) -> Tensor:
    """The fake of a loss with the logits' shape for 'none' (contiguous), else reduced."""
    return inputs.new_empty(options.reduced_shape(inputs) if options.reduce else inputs.shape, dtype=dtype)


def per_row_loss(inputs: Tensor, targets: Tensor, options: LossOptions, dtype: torch.dtype) -> Tensor:
    """The fake of a loss with one value per (N, *) row of (N, C, *) logits for 'none', else reduced."""
    shape = options.reduced_shape(inputs) if options.reduce else (inputs.shape[0], *inputs.shape[2:])
    return inputs.new_empty(shape, dtype=dtype)


def same_shape_grad(inputs: Tensor, dtype: torch.dtype) -> Tensor:
    """The fake of a contiguous gradient of the logits' shape."""
    return inputs.new_empty(inputs.shape, dtype=dtype)


class FusedGradLoss(torch.autograd.Function):
    """Eager autograd of every loss: the forward kernel writes dL/dx, backward scales it."""

    @staticmethod
    def forward(
        ctx: Any, spec: LossSpec, inputs: Tensor, targets: Tensor, loss_dtype: torch.dtype, options: LossOptions
    ) -> Tensor:
        with serialized_launches(inputs):
            loss, grad = spec.launch(inputs, targets, options, need_grad=True, loss_dtype=loss_dtype)
        save_fused_grad(ctx, grad, inputs.dtype, spec.row_broadcast)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[None, Tensor, None, None, None]:
        return None, eager_backward(ctx, grad_output), None, None, None


_warned_reference_on_cpu = False


def _say_the_reference_runs(inputs: Tensor) -> None:
    """Once a process: a CPU tensor runs the eager reference, not the kernels, and how to get them."""
    global _warned_reference_on_cpu
    if inputs.device.type == "cpu" and not _warned_reference_on_cpu and not torch.compiler.is_compiling():
        _warned_reference_on_cpu = True
        warnings.warn(
            "focal_triton: CPU tensors run the eager PyTorch reference (same results, not the Triton "
            "kernels); to run the kernels on the CPU through the Triton interpreter, set "
            "TRITON_INTERPRET=1 before importing focal_triton or triton",
            stacklevel=4,
        )


def _traced_under_forward_ad() -> bool:
    """torch.compile tracing inside ``forward_ad.dual_level()``: the custom op has no forward-mode
    formula (its tangent would come back missing), so the eager reference is traced instead, whose
    torch ops give the exact tangent.  Eager calls refuse dual tensors (_validation)."""
    return torch.compiler.is_compiling() and forward_ad._current_level >= 0


class RegisteredLoss:
    """A loss ready to call with checked arguments: ``loss(inputs, targets, options)``."""

    def __init__(self, spec: LossSpec):
        self.spec = spec
        self.fields = field_names(spec.options)
        self.op = torch.library.custom_op(
            f"focal_triton::{spec.name}", self._op_forward, mutates_args=(), schema=spec.schema()
        )
        self.op.register_fake(self._op_fake)
        self.op.register_autograd(self._op_backward, setup_context=self._op_setup_context)

    def op_arguments(
        self, inputs: Tensor, targets: Tensor, options: LossOptions, need_grad: bool, loss_dtype: torch.dtype
    ) -> tuple:
        """The op's arguments: the tensors, each field of ``options`` in order, need_grad, loss_dtype."""
        return (inputs, targets, *(getattr(options, name) for name in self.fields), need_grad, loss_dtype)

    def __call__(self, inputs: Tensor, targets: Tensor, options: LossOptions) -> Tensor:
        spec = self.spec
        if backend_for(inputs) == REFERENCE or _traced_under_forward_ad():
            _say_the_reference_runs(inputs)
            return spec.reference(inputs, targets, options)
        loss_dtype = loss_dtype_for(inputs)
        need_grad = torch.is_grad_enabled() and inputs.requires_grad
        if torch.compiler.is_compiling():
            return self.op(*self.op_arguments(inputs, targets, options, need_grad, loss_dtype))[0]
        if need_grad:
            return FusedGradLoss.apply(spec, inputs, targets, loss_dtype, options)
        with serialized_launches(inputs):
            return spec.launch(inputs, targets, options, need_grad=False, loss_dtype=loss_dtype)[0]

    # The custom op returns (loss, gradient); without a gradient, an empty placeholder.
    def _op_forward(self, inputs: Tensor, targets: Tensor, *fields_need_grad_loss_dtype: Any) -> tuple[Tensor, Tensor]:
        *values, need_grad, loss_dtype = fields_need_grad_loss_dtype
        with serialized_launches(inputs):
            loss, grad = self.spec.launch(
                inputs, targets, self.spec.options(*values), need_grad=need_grad, loss_dtype=loss_dtype
            )
        return loss, grad if grad is not None else inputs.new_empty(0)

    def _op_fake(self, inputs: Tensor, targets: Tensor, *fields_need_grad_loss_dtype: Any) -> tuple[Tensor, Tensor]:
        *values, need_grad, loss_dtype = fields_need_grad_loss_dtype
        loss = self.spec.empty_loss(inputs, targets, self.spec.options(*values), loss_dtype)
        grad = self.spec.empty_grad(inputs, grad_buffer_dtype(inputs.dtype)) if need_grad else inputs.new_empty(0)
        return loss, grad

    @staticmethod
    def _op_setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        ctx.save_for_backward(output[1])
        ctx.input_dtype = inputs[0].dtype
        ctx.n_arguments = len(inputs)

    def _op_backward(self, ctx: Any, grad_loss: Tensor, _grad_of_grad: Tensor) -> tuple:
        (grad,) = ctx.saved_tensors
        scaled = times_grad_output(grad, grad_loss, self.spec.row_broadcast, ctx.input_dtype)
        return scaled, *(None,) * (ctx.n_arguments - 1)
