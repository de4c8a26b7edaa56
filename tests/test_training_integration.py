"""The losses inside real training code: torch.compile (custom ops), no host sync, CUDA graphs."""

import pytest
import torch
from conftest import requires_cuda
from oracle import op_arguments

import focal_triton
from focal_triton._options import BinaryOptions, SoftmaxOptions

sigmoid_focal_op = torch.ops.focal_triton.sigmoid_focal_loss.default
sigmoid_focal_index_op = torch.ops.focal_triton.sigmoid_focal_index_loss.default
softmax_focal_op = torch.ops.focal_triton.softmax_focal_loss.default

REDUCTIONS = ["none", "mean", "sum"]


def sigmoid_op_args(x, t, reduction, need_grad=True, loss_dtype=torch.float32, **options):
    """The sigmoid ops' arguments: the options record's fields in schema order, defaults for those not given."""
    soft = t.is_floating_point() and t.shape == x.shape
    return op_arguments(BinaryOptions(reduction=reduction, soft_targets=soft, **options), x, t, need_grad, loss_dtype)


def softmax_op_args(x, t, reduction, need_grad=True, loss_dtype=torch.float32, **options):
    options = SoftmaxOptions(reduction=reduction, soft_targets=t.is_floating_point(), **options)
    return op_arguments(options, x, t, need_grad, loss_dtype)


@pytest.mark.parametrize("reduction", ["none", "mean"])  # per-element / per-row outputs, and 0-d ones ('sum' alike)
def test_opcheck(device, reduction):
    """Schema, fake tensors, autograd registration and AOT dispatch of every op, with every option."""
    x = torch.randn(3, 5, 4, device=device, requires_grad=True)
    soft = torch.rand(3, 5, 4, device=device)
    index = torch.randint(0, 5, (3, 4), device=device)
    alpha = torch.rand(5, device=device)
    labels = soft > 0.5
    bf16 = torch.bfloat16
    mean = {"normalizer_tensor": torch.tensor(3.0, device=device)} if reduction == "mean" else {}
    plain = [
        (sigmoid_focal_op, sigmoid_op_args(x, soft, reduction)),
        (sigmoid_focal_op, sigmoid_op_args(x, labels.to(torch.uint8), reduction, alpha=None, ignore_index=1)),
        (sigmoid_focal_op, sigmoid_op_args(x.detach().half(), labels, reduction, need_grad=False)),
        (sigmoid_focal_index_op, sigmoid_op_args(x, index, reduction, gamma=0.5)),
        (
            sigmoid_focal_index_op,
            sigmoid_op_args(
                x.detach().bfloat16(), index, reduction, gamma=0.5, ignore_index=3, need_grad=False, loss_dtype=bf16
            ),
        ),
        (softmax_focal_op, softmax_op_args(x, index, reduction, alpha_per_class=alpha)),
        (softmax_focal_op, softmax_op_args(x.detach(), index, reduction, alpha=0.5, need_grad=False)),
        # a float16 gradient is kept in float32 until backward
        (softmax_focal_op, softmax_op_args(x.detach().half().requires_grad_(), index, reduction)),
    ]
    # the options change no output shape: checked at 'mean' (with the normalizer)
    with_options = [
        (
            sigmoid_focal_op,
            sigmoid_op_args(
                x,
                labels.long(),
                reduction,
                alpha=None,
                alpha_per_class=alpha.view(5, 1),
                weight=soft[:1],
                label_smoothing=0.1,
                pos_weight_tensor=soft[0, :, :1],
                **mean,
            ),
        ),
        (
            sigmoid_focal_op,
            sigmoid_op_args(soft.clone().requires_grad_(), labels, reduction, activated=True, normalizer=2.0),
        ),
        (
            sigmoid_focal_index_op,
            sigmoid_op_args(
                x,
                index,
                reduction,
                alpha=None,
                alpha_per_class=alpha,
                weight=soft[:, :1],
                pos_weight=2.0,
                label_smoothing=0.2,
                **mean,
            ),
        ),
        (softmax_focal_op, softmax_op_args(x, index, reduction, weight=soft[:, 0], label_smoothing=0.1, **mean)),
        (softmax_focal_op, softmax_op_args(x, soft, reduction, alpha_per_class=alpha, normalizer=4.0)),
    ]
    # every opcheck test at 'mean'; at 'none' (the per-element / per-row fake shapes) all but AOT dispatch
    utils = None if reduction == "mean" else ("test_schema", "test_autograd_registration", "test_faketensor")
    for op, args in plain + (with_options if reduction == "mean" else []):
        torch.library.opcheck(op, args, **({} if utils is None else {"test_utils": utils}))


class DetectionHead(torch.nn.Module):
    """A 1x1 conv classifier with every loss form on its output."""

    def __init__(self, classes=6):
        super().__init__()
        self.conv = torch.nn.Conv2d(4, classes, 1)

    def forward(self, features, class_index, soft_targets):
        logits = self.conv(features)
        return (
            focal_triton.softmax_focal_loss(logits, class_index, alpha=[0.5, 1.0, 1.0, 2.0, 1.0, 0.25])
            + focal_triton.sigmoid_focal_loss(logits, class_index, reduction="mean")
            + focal_triton.sigmoid_focal_loss(logits, soft_targets, reduction="sum") / 100
        )


@pytest.mark.parametrize("dynamic", [False, True])
def test_torch_compile_fullgraph_matches_eager(device, dynamic):
    torch.manual_seed(0)
    model = DetectionHead().to(device)
    features = torch.randn(2, 4, 5, 5, device=device)
    class_index = torch.randint(0, 7, (2, 5, 5), device=device).masked_fill(
        torch.rand(2, 5, 5, device=device) < 0.1, -100
    )
    class_index = torch.where(class_index == 6, 5, class_index)  # softmax needs [0, C) or ignored
    soft = torch.rand(2, 6, 5, 5, device=device)

    eager = model(features, class_index, soft)
    eager.backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)

    compiled = torch.compile(model, fullgraph=True, dynamic=dynamic)  # raises on any graph break
    loss = compiled(features, class_index, soft)
    loss.backward()
    torch.testing.assert_close(loss, eager, rtol=1e-5, atol=1e-6)
    for grad, want in zip([p.grad for p in model.parameters()], eager_grads, strict=True):
        torch.testing.assert_close(grad, want, rtol=1e-5, atol=1e-6)


@pytest.fixture
def host_sync_forbidden(monkeypatch):
    """Fails the test if the launch path reads a tensor value on the host."""

    def forbidden(name):
        def fail(*args, **kwargs):
            raise AssertionError(f"{name} called on the loss path: a host-device sync")

        return fail

    for name in ("item", "tolist", "cpu", "numpy"):
        monkeypatch.setattr(torch.Tensor, name, forbidden(f"Tensor.{name}"))
    monkeypatch.setattr(torch.cuda, "synchronize", forbidden("torch.cuda.synchronize"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_no_host_sync_on_the_launch_path(device, host_sync_forbidden, reduction):
    x = torch.randn(4, 6, 3, device=device, requires_grad=True)
    index = torch.randint(0, 6, (4, 3), device=device)
    soft = torch.rand(4, 6, 3, device=device)
    # every option of the detection heads, a device-tensor normalizer included
    mean = {"normalizer": torch.tensor(5.0, device=device)} if reduction == "mean" else {}
    options = dict(weight=soft[:, :1], label_smoothing=0.1, **mean)
    losses = [
        focal_triton.sigmoid_focal_loss(x, soft, reduction=reduction),
        focal_triton.sigmoid_focal_loss(x, index, reduction=reduction),
        focal_triton.softmax_focal_loss(x, index, alpha=torch.ones(6, device=device), reduction=reduction),
        focal_triton.sigmoid_focal_loss(
            x, soft > 0.5, alpha=torch.rand(6, device=device), reduction=reduction, pos_weight=soft[0, :, :1], **options
        ),
        focal_triton.sigmoid_focal_loss(x, index, reduction=reduction, pos_weight=soft[0, :, :1], **options),
        focal_triton.sigmoid_focal_loss(
            soft.clone().requires_grad_(), index, reduction=reduction, activated=True, **options
        ),
        focal_triton.softmax_focal_loss(x, index, reduction=reduction, weight=soft[:, 0], label_smoothing=0.1, **mean),
        focal_triton.softmax_focal_loss(x, torch.softmax(soft, 1), reduction=reduction, **mean),
        # the focal family
        focal_triton.varifocal_loss(x, index, reduction=reduction, scores=soft[:, 0], detach_weight=True, **mean),
        focal_triton.varifocal_loss(x, soft * (soft > 0.5), reduction=reduction, weight=soft[:, :1], **mean),
        focal_triton.quality_focal_loss(x, index, reduction=reduction, scores=soft[:, 0], weight=soft[:, 1], **mean),
        focal_triton.distribution_focal_loss(x, soft[:, 0] * 5, reduction=reduction, **mean),
    ]
    for loss in losses:
        loss.backward(torch.ones_like(loss))
    assert x.grad is not None


@requires_cuda
@pytest.mark.parametrize("loss_name", ["sigmoid", "sigmoid-index", "softmax", "head-options", "softmax-smoothed"])
def test_cuda_graph_capture(loss_name):
    """Forward + backward captured once and replayed on new data gives the eager result."""
    x = torch.randn(64, 8, 16, device="cuda", requires_grad=True)
    index = torch.randint(0, 8, (64, 16), device="cuda")
    soft = torch.rand(64, 8, 16, device="cuda")

    def step():
        if loss_name == "sigmoid":
            loss = focal_triton.sigmoid_focal_loss(x, soft, reduction="mean")
        elif loss_name == "sigmoid-index":
            loss = focal_triton.sigmoid_focal_loss(x, index, reduction="sum")
        elif loss_name == "head-options":  # weight, a normalizer counted on the device, smoothing
            num_pos = (index < 4).sum().clamp(min=1)
            loss = focal_triton.sigmoid_focal_loss(
                x, index, reduction="mean", weight=soft[:, :1], normalizer=num_pos, label_smoothing=0.1
            )
        elif loss_name == "softmax-smoothed":
            loss = focal_triton.softmax_focal_loss(x, index, label_smoothing=0.1, weight=soft[:, 0])
        else:
            loss = focal_triton.softmax_focal_loss(x, index)
        x.grad = None
        loss.backward()
        return loss.detach(), x.grad

    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm-up: compilation and autotuning happen outside the capture
            step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss, static_grad = step()
    with torch.no_grad():
        x.copy_(torch.randn_like(x))
        index.copy_(torch.randint_like(index, 0, 8))
        soft.copy_(torch.rand_like(soft))
    graph.replay()
    want_loss, want_grad = (t.clone() for t in step())
    torch.testing.assert_close(static_loss, want_loss)
    torch.testing.assert_close(static_grad, want_grad)


@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16])
def test_autocast(device, amp_dtype):
    """Under autocast the model hands half-precision logits to the losses: the math runs in
    float32 inside the kernels, the loss comes back in float32 (as torch's losses under
    autocast), the weights get float32 grads."""
    from oracle import sigmoid_focal_loss64, softmax_focal_loss64

    if device == "cpu" and amp_dtype == torch.float16:
        pytest.skip("CPU autocast runs in bfloat16")
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 5).to(device)
    features = torch.randn(32, 8, device=device)
    classes = torch.randint(0, 5, (32,), device=device)
    one_hot = torch.nn.functional.one_hot(classes, 5).float()
    with torch.autocast(device_type=device, dtype=amp_dtype):
        logits = layer(features)
        softmax_loss = focal_triton.softmax_focal_loss(logits, classes)
        sigmoid_loss = focal_triton.sigmoid_focal_loss(logits, one_hot, reduction="mean")
    assert logits.dtype == amp_dtype
    assert softmax_loss.dtype == torch.float32 and sigmoid_loss.dtype == torch.float32
    (softmax_loss + sigmoid_loss).backward()
    assert layer.weight.grad.dtype == torch.float32 and torch.isfinite(layer.weight.grad).all()
    want_softmax = softmax_focal_loss64(logits.detach().cpu(), classes.cpu(), None, 2.0)[0].mean()
    want_sigmoid = sigmoid_focal_loss64(logits.detach().cpu(), one_hot.cpu(), 0.25, 2.0).mean()
    torch.testing.assert_close(softmax_loss.double().cpu(), want_softmax, rtol=1.6e-2, atol=1e-4)
    torch.testing.assert_close(sigmoid_loss.double().cpu(), want_sigmoid, rtol=1.6e-2, atol=1e-4)
