"""Known values from other libraries' focal-loss test suites, reproduced with focal_triton's
options (the numbers are theirs; the calls are ours).

- mmcv ``tests/test_ops/test_focal_loss.py``: its CUDA ops' loss and gradient at three inputs,
  class-index targets, alpha 0.25, gamma 2; mmcv's 'mean' divides the sum by N (rows), which
  is ``reduction='mean', normalizer=N`` for the sigmoid loss and the plain 'mean' of the softmax
  loss (its alpha is one factor for every class).
- mmpretrain ``tests/test_losses.py``: ``FocalLoss(gamma=2, alpha=0.25, reduction='mean')`` on
  int64 0/1 labels of the logits' shape, with and without a 0-d weight.
"""

import pytest
import torch

import focal_triton

MMCV_INPUTS = [
    ([[1.0, 0], [0, 1.0]], [0, 1]),
    ([[1.0, 0, -1.0], [0, 1.0, 2.0]], [2, 1]),
    ([[1e-6, 2e-6, 3e-6], [4e-6, 5e-5, 6e-4], [7e-3, 8e-2, 9e-1]], [1, 2, 0]),
]
MMCV_SIGMOID = [
    (0.13562961, [[-0.00657264, 0.11185755], [0.11185755, -0.00657264]]),
    (1.10251057, [[0.28808805, 0.11185755, -0.09602935], [0.11185755, -0.00657264, 0.40376765]]),
    (0.42287254, [[0.07457182, -0.02485716, 0.07457201], [0.07457211, 0.07457669, -0.02483728],
                  [-0.02462499, 0.08277918, 0.18050370]]),
]  # fmt: skip
MMCV_SOFTMAX = [
    (0.00566451, [[-0.00657264, 0.00657264], [0.00657264, -0.00657264]]),
    (0.34956908, [[0.10165970, 0.03739851, -0.13905823], [0.01227554, -0.10298023, 0.09070466]]),
    (0.15754992, [[0.02590877, -0.05181759, 0.02590882], [0.02589641, 0.02589760, -0.05179400],
                  [-0.07307514, 0.02234372, 0.05073142]]),
]  # fmt: skip


def loss_and_grad(fn, x, t, **options):
    leaf = x.detach().clone().requires_grad_()
    loss = fn(leaf, t, **options)
    loss.backward()
    return loss.detach(), leaf.grad


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_mmcv_sigmoid_focal_loss_values(device, case, dtype):
    (x, y), (want_loss, want_grad) = MMCV_INPUTS[case], MMCV_SIGMOID[case]
    x = torch.tensor(x, dtype=dtype, device=device)
    loss, grad = loss_and_grad(focal_triton.sigmoid_focal_loss, x, torch.tensor(y, device=device), alpha=0.25,
                               gamma=2.0, reduction="mean", normalizer=x.shape[0])  # fmt: skip
    tolerance = 1e-6 if dtype == torch.float32 else 1e-3
    torch.testing.assert_close(loss.float().cpu(), torch.tensor(want_loss), rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(grad.float().cpu(), torch.tensor(want_grad), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_mmcv_softmax_focal_loss_values(device, case, dtype):
    (x, y), (want_loss, want_grad) = MMCV_INPUTS[case], MMCV_SOFTMAX[case]
    x = torch.tensor(x, dtype=dtype, device=device)
    loss, grad = loss_and_grad(focal_triton.softmax_focal_loss, x, torch.tensor(y, device=device), alpha=0.25,
                               gamma=2.0)  # fmt: skip
    tolerance = 1e-6 if dtype == torch.float32 else 1e-3
    torch.testing.assert_close(loss.float().cpu(), torch.tensor(want_loss), rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(grad.float().cpu(), torch.tensor(want_grad), rtol=tolerance, atol=tolerance)


def test_mmpretrain_focal_loss_values(device):
    cls_score = torch.tensor([[5.0, -5, 0], [5, -5, 0]], device=device)
    label = torch.tensor([[1, 0, 1], [0, 1, 0]], device=device)  # int64 labels of the logits' shape
    loss = focal_triton.SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction="mean")
    torch.testing.assert_close(loss(cls_score, label).cpu(), torch.tensor(0.8522), rtol=0, atol=5e-5)
    weighted = loss(cls_score, label, torch.tensor(0.5, device=device))
    torch.testing.assert_close(weighted.cpu(), torch.tensor(0.8522 / 2), rtol=0, atol=5e-5)
