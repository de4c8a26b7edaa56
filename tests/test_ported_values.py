"""Other libraries' focal losses reproduced with focal_triton's options: known values from their
test suites (the numbers are theirs; the calls are ours), and float64 transcriptions of kornia's,
segmentation_models_pytorch's and fvcore's formulas, loss and gradient.

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
    (
        0.42287254,
        [
            [0.07457182, -0.02485716, 0.07457201],
            [0.07457211, 0.07457669, -0.02483728],
            [-0.02462499, 0.08277918, 0.18050370],
        ],
    ),
]
MMCV_SOFTMAX = [
    (0.00566451, [[-0.00657264, 0.00657264], [0.00657264, -0.00657264]]),
    (0.34956908, [[0.10165970, 0.03739851, -0.13905823], [0.01227554, -0.10298023, 0.09070466]]),
    (
        0.15754992,
        [
            [0.02590877, -0.05181759, 0.02590882],
            [0.02589641, 0.02589760, -0.05179400],
            [-0.07307514, 0.02234372, 0.05073142],
        ],
    ),
]


def loss_and_grad(fn, x, t, **options):
    leaf = x.detach().clone().requires_grad_()
    loss = fn(leaf, t, **options)
    loss.backward()
    return loss.detach(), leaf.grad


MMCV_CALLS = {  # mmcv's 'mean' is the sum over N (rows): normalizer=N for the sigmoid loss
    "sigmoid": (
        focal_triton.sigmoid_focal_loss,
        MMCV_SIGMOID,
        lambda x: {"reduction": "mean", "normalizer": x.shape[0]},
    ),
    "softmax": (focal_triton.softmax_focal_loss, MMCV_SOFTMAX, lambda x: {}),
}


@pytest.mark.parametrize("loss", list(MMCV_CALLS))
@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_mmcv_focal_loss_values(device, loss, case, dtype):
    fn, outputs, options = MMCV_CALLS[loss]
    (x, y), (want_loss, want_grad) = MMCV_INPUTS[case], outputs[case]
    x = torch.tensor(x, dtype=dtype, device=device)
    loss_value, grad = loss_and_grad(fn, x, torch.tensor(y, device=device), alpha=0.25, gamma=2.0, **options(x))
    tolerance = 1e-6 if dtype == torch.float32 else 1e-3
    torch.testing.assert_close(loss_value.float().cpu(), torch.tensor(want_loss), rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(grad.float().cpu(), torch.tensor(want_grad), rtol=tolerance, atol=tolerance)


def test_mmpretrain_focal_loss_values(device):
    cls_score = torch.tensor([[5.0, -5, 0], [5, -5, 0]], device=device)
    label = torch.tensor([[1, 0, 1], [0, 1, 0]], device=device)  # int64 labels of the logits' shape
    loss = focal_triton.SigmoidFocalLoss(alpha=0.25, gamma=2.0, reduction="mean")
    torch.testing.assert_close(loss(cls_score, label).cpu(), torch.tensor(0.8522), rtol=0, atol=5e-5)
    weighted = loss(cls_score, label, torch.tensor(0.5, device=device))
    torch.testing.assert_close(weighted.cpu(), torch.tensor(0.8522 / 2), rtol=0, atol=5e-5)


# ----------------------------------------------------------------------------- formulas of kornia, smp, fvcore
def _loss_and_grad64(formula, x):
    leaf = x.detach().double().cpu().requires_grad_()
    loss = formula(leaf)
    loss.backward()
    return loss.detach(), leaf.grad


def kornia_binary_focal_loss_with_logits(pred, target, alpha, gamma, pos_weight, weight, ignore_index):
    """kornia.losses.binary_focal_loss_with_logits, 'mean', transcribed (per-class pos_weight and weight
    along dim 1; ignored pixels masked out of the terms but counted by the mean)."""
    log_probs_pos = torch.nn.functional.logsigmoid(pred)
    log_probs_neg = torch.nn.functional.logsigmoid(-pred)
    target_mask = target != ignore_index
    target = target.where(target_mask, target.new_zeros(1)).to(pred.dtype)
    log_probs_neg = log_probs_neg * target_mask
    log_probs_pos = log_probs_pos * target_mask
    pos_term = -log_probs_neg.exp().pow(gamma) * target * log_probs_pos
    neg_term = -log_probs_pos.exp().pow(gamma) * (1.0 - target) * log_probs_neg
    pos_term, neg_term = alpha * pos_term, (1.0 - alpha) * neg_term
    broadcast = [-1] + [1] * len(pred.shape[2:])
    loss = weight.view(broadcast) * (pos_weight.view(broadcast) * pos_term + neg_term)
    return loss.mean()


def test_kornia_binary_focal_loss_with_logits(device):
    """kornia's call with pos_weight (C,), weight (C,) and ignore_index on 0/1 int labels is
    sigmoid_focal_loss(..., pos_weight=pw.view(C, 1), weight=w.view(C, 1), ignore_index=,
    reduction='mean', normalizer=numel) (kornia's mean counts the ignored pixels)."""
    generator = torch.Generator().manual_seed(0)
    pred = (torch.randn(2, 3, 5, generator=generator) * 3).to(device)
    target = torch.randint(0, 2, (2, 3, 5), generator=generator)
    target[0, :, 1] = 255
    pos_weight, weight = torch.tensor([1.0, 2.0, 0.5]), torch.tensor([0.3, 1.0, 2.0])
    got = loss_and_grad(
        focal_triton.sigmoid_focal_loss,
        pred,
        target.to(device),
        alpha=0.25,
        gamma=2.0,
        reduction="mean",
        ignore_index=255,
        pos_weight=pos_weight.view(3, 1).to(device),
        weight=weight.view(3, 1).to(device),
        normalizer=target.numel(),
    )
    want = _loss_and_grad64(
        lambda z: kornia_binary_focal_loss_with_logits(z, target, 0.25, 2.0, pos_weight.double(), weight.double(), 255),
        pred,
    )
    torch.testing.assert_close(got[0].double().cpu(), want[0], rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(got[1].double().cpu(), want[1], rtol=2e-5, atol=2e-6)


def smp_multiclass_focal_loss(y_pred, y_true, alpha, gamma, ignore_index, average_classes):
    """segmentation_models_pytorch FocalLoss(mode='multiclass'), transcribed: per class, the binary focal
    loss (focal_loss_with_logits, 'mean') over the non-ignored pixels, then averaged over the classes
    (0.6.0: ``torch.stack(class_losses).mean()``) or summed (0.5.0 and before: ``loss += ...``)."""
    not_ignored = y_true != ignore_index
    class_losses = []
    for cls in range(y_pred.size(1)):
        cls_y_true = (y_true == cls).long()[not_ignored].to(y_pred.dtype)
        cls_y_pred = y_pred[:, cls, ...][not_ignored]
        logpt = torch.nn.functional.binary_cross_entropy_with_logits(cls_y_pred, cls_y_true, reduction="none")
        pt = torch.exp(-logpt)
        term = (1.0 - pt).pow(gamma) * logpt * (alpha * cls_y_true + (1 - alpha) * (1 - cls_y_true))
        class_losses.append(term.mean())
    class_losses = torch.stack(class_losses)
    return class_losses.mean() if average_classes else class_losses.sum()


@pytest.mark.parametrize("version", ["0.6", "0.5"])
def test_smp_multiclass_focal_loss(device, version):
    """smp's multiclass mode is the class-index sigmoid loss with ignore_index: 0.6 averages the
    per-class means ('mean', whose denominator is C per kept pixel); 0.5 summed them
    (normalizer=(y != ignore_index).sum(), a device tensor)."""
    generator = torch.Generator().manual_seed(1)
    pred = (torch.randn(2, 4, 3, 5, generator=generator) * 3).to(device)
    labels = torch.randint(0, 4, (2, 3, 5), generator=generator)
    labels[1, 0] = -1
    y = labels.to(device)
    normalizer = {} if version == "0.6" else {"normalizer": (y != -1).sum()}
    got = loss_and_grad(
        focal_triton.sigmoid_focal_loss, pred, y, alpha=0.25, gamma=2.0, reduction="mean", ignore_index=-1, **normalizer
    )
    want = _loss_and_grad64(lambda z: smp_multiclass_focal_loss(z, labels, 0.25, 2.0, -1, version == "0.6"), pred)
    torch.testing.assert_close(got[0].double().cpu(), want[0], rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(got[1].double().cpu(), want[1], rtol=2e-5, atol=2e-6)


def fvcore_sigmoid_focal_loss(inputs, targets, alpha=-1, gamma=2, reduction="none"):
    """fvcore.nn.sigmoid_focal_loss, transcribed (alpha < 0: no alpha factor)."""
    p = torch.sigmoid(inputs)
    ce_loss = torch.nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.sum() if reduction == "sum" else loss.mean()


@pytest.mark.parametrize("alpha", [-1, 0.25])
def test_fvcore_sigmoid_focal_loss(device, alpha):
    generator = torch.Generator().manual_seed(2)
    pred = (torch.randn(6, 7, generator=generator) * 3).to(device)
    targets = torch.rand(6, 7, generator=generator)
    got = loss_and_grad(focal_triton.sigmoid_focal_loss, pred, targets.to(device), alpha=alpha, reduction="mean")
    want = _loss_and_grad64(lambda z: fvcore_sigmoid_focal_loss(z, targets.double(), alpha, reduction="mean"), pred)
    torch.testing.assert_close(got[0].double().cpu(), want[0], rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(got[1].double().cpu(), want[1], rtol=2e-5, atol=2e-6)
