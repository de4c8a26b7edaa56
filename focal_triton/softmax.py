"""Multiclass (softmax) focal loss: functional and nn.Module forms."""

import torch

from . import reference
from ._autograd import SoftmaxFocalLossFunction
from ._backend import REFERENCE, backend_for
from ._launch import softmax_focal_forward
from ._ops import softmax_focal_op
from ._validation import check_softmax_args


def softmax_focal_loss(inputs, targets, alpha=None, gamma=2.0, reduction="mean", ignore_index=-100):
    """Multiclass focal loss over softmax probabilities, in one fused Triton kernel with its gradient.

    loss_i = -alpha_k * (1 - p_k) ** gamma * log p_k, with p = softmax(inputs, dim=1)
    and k = targets_i.  With gamma = 0 and alpha=None this is ``F.cross_entropy``.

    Args:
        inputs: logits of shape (N, C) or (N, C, d1, ..., dk) (the layout of
            ``F.cross_entropy``), float32, float16, bfloat16 or float64; any C >= 1.
            Contiguous, channels_last and other layouts whose trailing dims merge
            into one stride are read in place (no permute, no copy).
        targets: class indices of shape (N,) or (N, d1, ..., dk), int64, int32 or
            uint8, read in their own dtype.  A value outside [0, C) that is not
            ``ignore_index`` is an error on the CPU; on the GPU (where checking
            would cost a host sync) that position's loss and gradient are NaN.
        alpha: ``None`` (no alpha factor), one number in [0, 1] for every class,
            or a sequence / 1-D tensor of C weights >= 0: alpha_k = alpha[k]
            (the usual way to up-weight rare classes).
        gamma: focusing exponent, any finite number >= 0.  Default 2.
        reduction: ``'none'`` (shape (N, d1, ...), 0 at ignored positions),
            ``'mean'`` (sum divided by the number of non-ignored positions, alpha
            not in the denominator; NaN when every position is ignored) or ``'sum'``.
        ignore_index: positions whose target equals it contribute 0 loss and 0
            gradient.  Default -100.

    Returns:
        The loss in the dtype of ``inputs``.
    """
    checked_alpha, checked_gamma, _ = check_softmax_args(inputs, targets, alpha, gamma, reduction, ignore_index)
    if backend_for(inputs) == REFERENCE:
        return reference.softmax_focal_loss(inputs, targets, alpha, gamma, reduction, ignore_index)
    args = (inputs, targets, checked_alpha, checked_gamma, reduction, ignore_index)
    need_grad = torch.is_grad_enabled() and inputs.requires_grad
    if torch.compiler.is_compiling():  # the custom op: no graph break
        per_class = checked_alpha if isinstance(checked_alpha, torch.Tensor) else None
        scalar = checked_alpha if isinstance(checked_alpha, float) else 0.0
        return softmax_focal_op(
            inputs,
            targets,
            scalar,
            per_class,
            checked_alpha is not None,
            checked_gamma,
            reduction,
            ignore_index,
            need_grad,
        )[0]
    if need_grad:
        return SoftmaxFocalLossFunction.apply(*args)
    return softmax_focal_forward(*args, need_grad=False)[0]


class SoftmaxFocalLoss(torch.nn.Module):
    """Module form of :func:`softmax_focal_loss`.  A per-class ``alpha`` is kept as a
    buffer, so it follows the module across ``.to(device)``."""

    def __init__(self, alpha=None, gamma=2.0, reduction="mean", ignore_index=-100):
        super().__init__()
        if isinstance(alpha, (list, tuple, torch.Tensor)):
            self.register_buffer("alpha", torch.as_tensor(alpha, dtype=torch.float32))
        else:
            self.alpha = alpha
        self.gamma, self.reduction, self.ignore_index = gamma, reduction, ignore_index

    def forward(self, inputs, targets):
        return softmax_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction, self.ignore_index)

    def extra_repr(self):
        alpha = "per-class" if isinstance(self.alpha, torch.Tensor) else self.alpha
        return f"alpha={alpha}, gamma={self.gamma}, reduction={self.reduction!r}, ignore_index={self.ignore_index}"
