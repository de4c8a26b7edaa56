"""The path every loss call takes once its arguments are checked: the eager fallback, the
custom op under torch.compile, the autograd Function when a gradient is needed, else the
launcher alone."""

import torch

from ._backend import REFERENCE, backend_for
from ._validation import loss_dtype_for


def run_loss(inputs, targets, args, *, reference, op, op_args, function, launcher):
    """The loss of ``inputs`` and ``targets``.

    args: the checked arguments after targets, as the Function and the launcher take them;
    op_args: the same for the custom op; reference: a callable giving the eager result.
    """
    if backend_for(inputs) == REFERENCE:
        return reference()
    loss_dtype = loss_dtype_for(inputs)
    need_grad = torch.is_grad_enabled() and inputs.requires_grad
    if torch.compiler.is_compiling():  # the custom op: no graph break
        return op(inputs, targets, *op_args, need_grad, loss_dtype)[0]
    if need_grad:
        return function.apply(inputs, targets, *args, loss_dtype)
    return launcher(inputs, targets, *args, need_grad=False, loss_dtype=loss_dtype)[0]
