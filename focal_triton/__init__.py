"""focal_triton: fused, numerically stable focal losses for PyTorch, written in Triton."""

from ._backend import backend_for
from .sigmoid import SigmoidFocalLoss, sigmoid_focal_loss
from .softmax import SoftmaxFocalLoss, softmax_focal_loss

__all__ = ["SigmoidFocalLoss", "SoftmaxFocalLoss", "backend_for", "sigmoid_focal_loss", "softmax_focal_loss"]
__version__ = "0.1.0"
