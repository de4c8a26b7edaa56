"""Correct in the setups real training uses: loss scaling of half-precision gradients, autocast,
checkpointing and saved-tensor hooks, gradients that cannot be given, masked classes,
64-bit class offsets, run-to-run and config-to-config determinism, float64 scalars."""

import threading

import pytest
import torch
import torch.nn.functional as F
import triton
from conftest import requires_cuda
from oracle import (
    one_hot64,
    sigmoid_focal_grad64,
    sigmoid_focal_loss64,
    softmax_focal_grad64,
    softmax_focal_loss64,
)

import focal_triton
from focal_triton import sigmoid_focal_loss, softmax_focal_loss, tuning

HALF = [torch.float16, torch.bfloat16]


def logits(shape, dtype, device, scale=4.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * scale).to(dtype).to(device)


def assert_within_final_rounding(got, want64, ulps=1.0):
    """|got - want| <= ulps units in the last place of ``got``'s dtype at |want|: the float64
    value rounded once to the output dtype, give or take the float32 math inside the kernels."""
    dtype = got.dtype
    rounded = want64.abs().to(dtype)
    spacing = (torch.nextafter(rounded, torch.full_like(rounded, float("inf"))) - rounded).double()
    error = (got.double().cpu() - want64.cpu()).abs()
    worst = (error - ulps * spacing.cpu()).max()
    assert worst <= 0, f"off by more than {ulps} ulp: max excess {worst.item():.3g}"


# (name, loss call, float64 gradient of the sum) of each loss over (8, C, 25) logits.
def _sigmoid_case(x, device):
    t = torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) > 0.7
    return lambda v, **k: sigmoid_focal_loss(v, t.to(device), **k), sigmoid_focal_grad64(x.cpu(), t.double(), 0.25, 2.0)


def _index_case(x, device):
    k = torch.randint(0, x.shape[1] + 1, (x.shape[0], *x.shape[2:]), generator=torch.Generator().manual_seed(1))
    want = sigmoid_focal_grad64(x.cpu(), one_hot64(k, x.shape[1]), 0.25, 2.0)
    return lambda v, **kw: sigmoid_focal_loss(v, k.to(device), **kw), want


def _softmax_case(x, device):
    k = torch.randint(0, x.shape[1], (x.shape[0], *x.shape[2:]), generator=torch.Generator().manual_seed(1))
    return lambda v, **kw: softmax_focal_loss(v, k.to(device), **kw), softmax_focal_grad64(x.cpu(), k, None, 2.0)


CASES = {
    "sigmoid": (_sigmoid_case, (8, 100, 80)),
    "sigmoid-index": (_index_case, (8, 80, 25)),
    "softmax": (_softmax_case, (8, 5000)),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", HALF)
def test_loss_scaled_half_gradients_keep_their_precision(device, case, reduction, dtype):
    """GradScaler multiplies the loss by 2**15: x.grad must be the float64 gradient times
    2**15 rounded once to the logits' dtype, not a gradient that underflowed before the scale."""
    make, shape = CASES[case]
    x = logits(shape, dtype, device)
    loss_fn, grad_sum64 = make(x, device)
    scale = 2.0**15 if reduction == "mean" else 2.0**-4  # 'sum' gradients are large: scale down
    leaf = x.detach().clone().requires_grad_()
    loss = loss_fn(leaf, reduction=reduction)
    (torch.tensor(scale, device=device) * loss.float()).backward()
    count = x.numel() if case != "softmax" else x.shape[0]
    want = grad_sum64 * scale / (count if reduction == "mean" else 1)
    assert leaf.grad.dtype == dtype
    # The Triton interpreter converts float32 to bfloat16 by truncation (the GPU rounds to
    # nearest even, and the interpreter ignores fp_downcast_rounding): one more ulp there.
    interpreted_bf16 = dtype == torch.bfloat16 and focal_triton.backend_for(x) == "triton-interpreter"
    assert_within_final_rounding(leaf.grad, want, ulps=2.0 if interpreted_bf16 else 1.0)


@pytest.mark.parametrize("dtype", HALF)
@pytest.mark.parametrize("case", CASES)
def test_loss_is_float32_under_autocast(device, dtype, case):
    """torch's own losses return float32 under autocast, so GradScaler's scaled loss cannot overflow."""
    if device == "cuda" and not torch.cuda.is_bf16_supported() and dtype == torch.bfloat16:
        pytest.skip("no bfloat16 on this GPU")
    make, shape = CASES[case]
    x = logits((2, *shape[1:]), dtype, device)
    loss_fn, _ = make(x, device)
    with torch.autocast(device_type=device, dtype=dtype):
        for reduction in ("none", "mean", "sum"):
            leaf = x.detach().clone().requires_grad_()
            loss = loss_fn(leaf, reduction=reduction)
            assert loss.dtype == torch.float32, reduction
            loss.sum().backward()
            assert leaf.grad.dtype == dtype
    assert loss_fn(x, reduction="mean").dtype == dtype  # outside autocast: the logits' dtype


def _twice_through(loss_fn, x, wrap):
    """Gradient of (2 * loss) taken twice through one retained graph built under ``wrap``."""
    leaf = x.detach().clone().requires_grad_()
    with wrap():
        loss = 2 * loss_fn(leaf, reduction="mean")
    loss.backward(retain_graph=True)
    loss.backward()
    return leaf.grad


class _CopyingHooks(torch.autograd.graph.saved_tensors_hooks):
    """Saved tensors packed as copies and unpacked as fresh copies (as save_on_cpu on a GPU)."""

    def __init__(self):
        super().__init__(lambda t: t.clone(), lambda t: t.clone())


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("hooks", ["checkpoint", "copying-hooks", "save_on_cpu"])
def test_repeated_backward_under_saved_tensor_hooks(device, case, hooks):
    make, shape = CASES[case]
    x = logits((2, *shape[1:]), torch.float32, device)
    loss_fn, _ = make(x, device)
    leaf = x.detach().clone().requires_grad_()
    (2 * loss_fn(leaf, reduction="mean")).backward()
    fresh = leaf.grad
    if hooks == "checkpoint":
        leaf = x.detach().clone().requires_grad_()
        loss = 2 * torch.utils.checkpoint.checkpoint(lambda v: loss_fn(v, reduction="mean"), leaf, use_reentrant=False)
        loss.backward(retain_graph=True)
        loss.backward()
        got = leaf.grad
    else:
        wrap = _CopyingHooks if hooks == "copying-hooks" else torch.autograd.graph.save_on_cpu
        got = _twice_through(loss_fn, x, wrap)
    torch.testing.assert_close(got, 2 * fresh, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_half_repeated_backward_equals_a_fresh_one(device, case):
    make, shape = CASES[case]
    x = logits((2, *shape[1:]), torch.float16, device)
    loss_fn, grad_sum64 = make(x, device)
    leaf = x.detach().clone().requires_grad_()
    loss = loss_fn(leaf, reduction="sum")
    torch.autograd.grad(0.01 * loss, leaf, retain_graph=True)
    (grad,) = torch.autograd.grad(loss, leaf)
    assert_within_final_rounding(grad, grad_sum64)


def test_targets_that_require_grad_are_refused(device):
    x = logits((4, 3), torch.float32, device).requires_grad_()
    soft = torch.rand(4, 3, device=device, requires_grad=True)
    with pytest.raises(ValueError, match="targets requires grad"):
        sigmoid_focal_loss(x, soft)
    with pytest.raises(ValueError, match="targets requires grad"):
        sigmoid_focal_loss(x.detach(), soft)  # only the targets require grad
    with torch.no_grad():
        sigmoid_focal_loss(x, soft)  # nothing to differentiate: fine
    sigmoid_focal_loss(x, soft.detach()).sum().backward()


def test_class_weights_that_require_grad_are_refused(device):
    x = logits((4, 3), torch.float32, device).requires_grad_()
    weights = torch.ones(3, device=device, requires_grad=True)
    with pytest.raises(ValueError, match="alpha requires grad"):
        softmax_focal_loss(x, torch.tensor([0, 1, 2, 0], device=device), alpha=weights)


def test_forward_mode_ad_is_refused(device):
    import torch.autograd.forward_ad as forward_ad

    x = logits((4, 3), torch.float32, device)
    with forward_ad.dual_level():
        dual = forward_ad.make_dual(x, torch.ones_like(x))
        for call in (
            lambda: sigmoid_focal_loss(dual, torch.rand(4, 3, device=device)),
            lambda: softmax_focal_loss(dual, torch.tensor([0, 1, 2, 0], device=device)),
        ):
            with pytest.raises(RuntimeError, match="forward-mode AD"):
                call()


@pytest.mark.parametrize("transform", ["grad", "vmap"])
def test_torch_func_transforms_are_refused(device, transform):
    x = logits((4, 3), torch.float32, device)
    t = torch.rand(4, 3, device=device)

    def loss(v):
        return sigmoid_focal_loss(v, t, reduction="sum")

    apply = torch.func.grad(loss) if transform == "grad" else torch.func.vmap(loss)
    with pytest.raises(RuntimeError, match="torch.func transforms"):
        apply(x)


@pytest.mark.parametrize("layout", ["rows", "nchw"])
def test_softmax_first_class_tile_all_minus_infinity(device, layout):
    """Masked classes (-inf) filling the first class tile: the online max must not form -inf - -inf."""
    if layout == "rows":
        x = logits((3, 8193), torch.float32, device)
        x[0, :4096] = -float("inf")
        x[1, :4200] = -float("inf")
        k = torch.tensor([5000, 4500, 7], device=device)
    else:
        # 128 pixels: the NCHW tile runs along the pixels, 32 classes at a time
        x = logits((2, 40, 8, 16), torch.float32, device)
        x[0, :32, 1, 2] = -float("inf")  # one pixel: every class of the first 32-class tile masked
        x[1, :35] = -float("inf")
        k = torch.full((2, 8, 16), 36, device=device)
    leaf = x.clone().requires_grad_()
    loss = softmax_focal_loss(leaf, k, gamma=0.0, reduction="none")
    loss.sum().backward()
    torch.testing.assert_close(loss.cpu(), F.cross_entropy(x.cpu(), k.cpu(), reduction="none"), rtol=2e-5, atol=1e-6)
    want_loss, _ = softmax_focal_loss64(x.cpu(), k.cpu(), None, 2.0)
    two = softmax_focal_loss(x, k, gamma=2.0, reduction="none")
    torch.testing.assert_close(two.double().cpu(), want_loss, rtol=2e-5, atol=1e-6)
    torch.testing.assert_close(
        leaf.grad.double().cpu(), softmax_focal_grad64(x.cpu(), k.cpu(), None, 0.0), rtol=2e-5, atol=1e-6
    )


@pytest.mark.parametrize("num_classes", [2, 5000])
def test_softmax_confident_row_keeps_its_tiny_loss(device, num_classes):
    x = torch.full((1, num_classes), -30.0, device=device)
    x[0, :2] = torch.tensor([54.0, 40.0])
    k = torch.tensor([0], device=device)
    loss = softmax_focal_loss(x, k, gamma=0.0, reduction="sum")
    want = F.cross_entropy(x.double().cpu(), k.cpu(), reduction="sum")  # 8.3e-7, not 0
    if num_classes == 2:
        # two classes: softplus(-(x_k - x_o)) of the margin, log1p(exp(-14)) without rounding 1 + e
        torch.testing.assert_close(loss.double().cpu(), want, rtol=1e-5, atol=0)
    else:
        # float32 rounds 1 + exp(-14) to 1 + 7 * 2**-23 before the log, as F.cross_entropy does
        torch.testing.assert_close(loss.cpu(), F.cross_entropy(x.cpu(), k.cpu(), reduction="sum"), rtol=1e-6, atol=0)
        torch.testing.assert_close(loss.double().cpu(), want, rtol=5e-3, atol=0)


@pytest.mark.parametrize("loss_name", ["softmax", "sigmoid-index"])
def test_class_offsets_past_two_to_the_31(device, loss_name):
    """A (1, 3) view whose classes are 2**30 elements apart: class 2 sits at 2**31, where a 32-bit
    class offset wraps.  The 4 GiB storage is virtual: only the three logits are touched."""
    storage = torch.empty(2 * 2**30 + 1, dtype=torch.float16, device=device)
    x = storage.as_strided((1, 3), (3, 2**30))
    values = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float16)
    x.copy_(values.to(device))
    k = torch.tensor([2], device=device)
    leaf = x.requires_grad_()
    if loss_name == "softmax":
        loss = softmax_focal_loss(leaf, k, reduction="sum")
        want_loss = softmax_focal_loss64(values, k.cpu(), None, 2.0)[0].sum()
        want_grad = softmax_focal_grad64(values, k.cpu(), None, 2.0)
    else:
        loss = sigmoid_focal_loss(leaf, k, reduction="sum")
        want_loss = sigmoid_focal_loss64(values, one_hot64(k.cpu(), 3), 0.25, 2.0).sum()
        want_grad = sigmoid_focal_grad64(values, one_hot64(k.cpu(), 3), 0.25, 2.0)
    (grad,) = torch.autograd.grad(loss, leaf)
    torch.testing.assert_close(loss.double().cpu(), want_loss, rtol=2e-3, atol=1e-5)
    torch.testing.assert_close(grad.double().cpu(), want_grad, rtol=2e-3, atol=1e-5)


def _with_config(monkeypatch, block, warps):
    monkeypatch.setattr(tuning, "shipped_config", lambda *a: {"BLOCK": block, "num_warps": warps})


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reductions_are_bitwise_identical_across_launch_configs(device, monkeypatch, reduction):
    x = logits(50_000, torch.float32, device)
    t = torch.rand(50_000, generator=torch.Generator().manual_seed(1)).to(device)
    results = []
    for block, warps in tuning.ELEMENTWISE_CONFIGS:
        _with_config(monkeypatch, block, warps)
        with tuning.recording_launches() as launches:
            results.append(sigmoid_focal_loss(x, t, reduction=reduction))
        assert launches["sigmoid_focal_fwd"]["config"] == {"BLOCK": block, "num_warps": warps}
    assert all(torch.equal(r, results[0]) for r in results), [r.item() for r in results]
    want = sigmoid_focal_loss64(x.cpu(), t.cpu(), 0.25, 2.0).sum() / (50_000 if reduction == "mean" else 1)
    torch.testing.assert_close(results[0].double().cpu(), want, rtol=1e-5, atol=0)


def _specified_sum(losses, streams):
    """The reduction order kernels/reduce.py specifies, in float32 on the host: 1024-element steps
    dealt to the streams in turn; in each step a lane adds the pairwise tree of its 8 adjacent
    losses to its running sum; a stream's partial is the pairwise tree of its 128 lanes; the
    partials (zeros to 1024) are a pairwise tree.  (On a GPU, tl.sum's order would follow the
    register layout of the launch config.)"""
    steps = losses.view(-1, streams, 128, 8)
    while steps.shape[-1] > 1:
        steps = steps[..., 0::2] + steps[..., 1::2]
    lanes = torch.zeros(streams, 128)
    for step in steps[..., 0]:
        lanes = lanes + step
    while lanes.shape[1] > 1:
        lanes = lanes[:, 0::2] + lanes[:, 1::2]
    partials = torch.cat([lanes[:, 0], torch.zeros(1024 - streams)])
    while partials.numel() > 1:
        partials = partials[0::2] + partials[1::2]
    return partials


@pytest.mark.parametrize("seed", [3, 4, 5])
@pytest.mark.parametrize("max_streams, steps", [(2048, 1), (4, 3)])
def test_reduction_order_is_the_specified_tree(device, monkeypatch, max_streams, steps, seed):
    """The 'sum' is, bit for bit, the specified order, with one step per stream (3 streams of data,
    a fourth empty) and with three steps per stream (fewer streams allowed).  Pairwise trees give
    the same float32 sum for many orders; half the losses ~1e3 and half ~0.1, over these three
    seeds, tell apart the specified order from a plain sum, a reversed walk of the steps and the
    orders with streams, lanes or group elements shifted by one."""
    from focal_triton import _elementwise

    monkeypatch.setattr(_elementwise, "MAX_STREAMS", max_streams)
    streams = min(4, max_streams)
    n = 3 * 1024 * (streams if steps > 1 else 1)
    generator = torch.Generator().manual_seed(seed)
    large = torch.rand(n, generator=generator) < 0.5
    x = (torch.where(large, 1000.0, 1.0) * torch.randn(n, generator=generator)).to(device)
    t = torch.rand(n, generator=generator).to(device)
    losses = sigmoid_focal_loss(x, t, reduction="none").cpu()
    padded = torch.cat([losses, torch.zeros(steps * streams * 1024 - n)])
    assert _elementwise.stream_count(n) == streams
    assert torch.equal(sigmoid_focal_loss(x, t, reduction="sum").cpu().view(1), _specified_sum(padded, streams))


class _TunedByAnotherThread:
    """The autotuner as a racing thread leaves it: right after this call's launch, another
    call's tuning result (a different BLOCK) lands in the shared ``best_config``."""

    def __init__(self, autotuned):
        self.fn, self._autotuned = autotuned.fn, autotuned

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            self._autotuned[grid](*args, **kwargs)
            self.best_config = triton.Config({"BLOCK": 4096}, num_warps=16)

        return launch


def test_reduction_does_not_read_the_shared_autotuner_state(device, monkeypatch):
    monkeypatch.setattr(tuning, "SIGMOID_AUTOTUNER", _TunedByAnotherThread(tuning.SIGMOID_AUTOTUNER))
    x = logits(5000, torch.float32, device)
    t = torch.rand(5000, generator=torch.Generator().manual_seed(1)).to(device)
    want = sigmoid_focal_loss64(x.cpu(), t.cpu(), 0.25, 2.0).sum()
    torch.testing.assert_close(sigmoid_focal_loss(x, t, reduction="sum").double().cpu(), want, rtol=1e-5, atol=0)


@requires_cuda  # the Triton interpreter keeps its grid in global state: one thread at a time
def test_threads_get_their_own_results(device):
    inputs = [(logits(n, torch.float32, device, seed=n), torch.rand(n).to(device)) for n in (1000, 3000, 5000, 9000)]
    alone = [sigmoid_focal_loss(x, t, reduction="sum") for x, t in inputs]
    together = [None] * len(inputs)

    def worker(i):
        together[i] = sigmoid_focal_loss(*inputs[i], reduction="sum")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(torch.equal(a, b) for a, b in zip(alone, together, strict=True))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_float64_scalars_are_exact(device, reduction):
    """alpha = 0.3 and gamma = 1.7 reach float64 kernels in float64 (not rounded to float32, 4e-8 off)."""
    x = logits((6, 7, 3), torch.float64, device)
    soft = torch.rand(6, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).to(device)
    k = torch.tensor([[0, 6, 3], [1, 2, 7], [4, 4, 4], [5, 0, 1], [2, 3, 6], [7, 7, 0]], device=device)
    got = [
        sigmoid_focal_loss(x, soft, 0.3, 1.7, reduction),
        sigmoid_focal_loss(x, k, 0.3, 1.7, reduction),
        softmax_focal_loss(x, k.clamp(max=6), 0.3, 1.7, reduction),
    ]
    elementwise = [
        sigmoid_focal_loss64(x.cpu(), soft.cpu(), 0.3, 1.7),
        sigmoid_focal_loss64(x.cpu(), one_hot64(k.cpu(), 7), 0.3, 1.7),
        softmax_focal_loss64(x.cpu(), k.clamp(max=6).cpu(), 0.3, 1.7)[0],
    ]
    for loss, want in zip(got, elementwise, strict=True):
        want = {"none": want, "mean": want.mean(), "sum": want.sum()}[reduction]
        torch.testing.assert_close(loss.cpu(), want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape", [(0, 5), (4, 5, 0), (4, 5, 0, 3), (0, 5, 2, 2)])
@pytest.mark.parametrize("loss_name", ["softmax", "sigmoid-index"])
def test_empty_multiclass_inputs(device, shape, loss_name):
    """Empty proposal / anchor sets: an empty 'none', 0 for 'sum', NaN for 'mean', an empty gradient."""
    loss_fn = softmax_focal_loss if loss_name == "softmax" else sigmoid_focal_loss
    x = torch.empty(shape, device=device, requires_grad=True)
    k = torch.empty((shape[0], *shape[2:]), dtype=torch.int64, device=device)
    none = loss_fn(x, k, reduction="none")
    assert none.numel() == 0
    assert loss_fn(x, k, reduction="sum").item() == 0.0
    assert torch.isnan(loss_fn(x, k, reduction="mean"))
    loss_fn(x, k, reduction="sum").backward()
    assert x.grad.shape == x.shape


def test_sparse_logits_are_refused(device):
    x = torch.eye(3, device=device).to_sparse()
    with pytest.raises(TypeError, match="inputs must be a dense"):
        sigmoid_focal_loss(x, torch.zeros(3, 3, device=device))


@pytest.mark.parametrize("ignore_index", [2**63, -(2**63) - 1, 1e3, "void"])
def test_ignore_index_outside_int64_or_not_an_int(device, ignore_index):
    x = logits((4, 3), torch.float32, device)
    k = torch.tensor([0, 1, 2, 0], device=device)
    error = ValueError if isinstance(ignore_index, int) else TypeError
    for call in (
        lambda: softmax_focal_loss(x, k, ignore_index=ignore_index),
        lambda: sigmoid_focal_loss(x, k, ignore_index=ignore_index),
        lambda: sigmoid_focal_loss(x, torch.zeros(4, 3, dtype=torch.uint8, device=device), ignore_index=ignore_index),
    ):
        with pytest.raises(error, match="ignore_index"):
            call()


def test_jit_trace_is_refused(device):
    x = logits((4, 3), torch.float32, device)
    t = torch.rand(4, 3, device=device)
    with pytest.raises(RuntimeError, match="torch.jit.trace"):
        torch.jit.trace(lambda v: sigmoid_focal_loss(v, t, reduction="sum"), (x,))


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_uint8_same_shape_targets_honour_ignore_index(device, reduction):
    """A segmentation mask with 255 = void: void pixels give no loss, no gradient, and leave the mean."""
    x = logits((2, 3, 4, 5), torch.float32, device)
    mask = torch.randint(0, 2, (2, 3, 4, 5), generator=torch.Generator().manual_seed(3), dtype=torch.uint8)
    mask[0, :, 1] = 255
    mask[1, 2] = 255
    leaf = x.clone().requires_grad_()
    loss = sigmoid_focal_loss(leaf, mask.to(device), reduction=reduction, ignore_index=255)
    loss.backward(torch.ones_like(loss))
    kept = mask != 255
    elementwise = torch.where(kept, sigmoid_focal_loss64(x.cpu(), (mask == 1).double(), 0.25, 2.0), 0.0)
    grad = torch.where(kept, sigmoid_focal_grad64(x.cpu(), (mask == 1).double(), 0.25, 2.0), 0.0)
    if reduction == "mean":
        want, grad = elementwise.sum() / kept.sum(), grad / kept.sum()
    else:
        want = elementwise.sum() if reduction == "sum" else elementwise
    torch.testing.assert_close(loss.double().cpu(), want, rtol=2e-5, atol=2e-6)
    torch.testing.assert_close(leaf.grad.double().cpu(), grad, rtol=2e-5, atol=2e-6)
    # the same call on the eager reference
    ref = focal_triton.reference.sigmoid_focal_loss(x.cpu(), mask, reduction=reduction, ignore_index=255)
    torch.testing.assert_close(ref.double(), want, rtol=2e-5, atol=2e-6)


def test_single_class_index_targets_are_refused(device):
    """(N, 1) logits with (N,) 0/1 labels would read label 1 as background: refused with a pointer."""
    x = logits((6, 1), torch.float32, device)
    with pytest.raises(ValueError, match="pass targets of the shape of inputs"):
        sigmoid_focal_loss(x, torch.tensor([0, 1, 1, 0, 1, 0], device=device))


@pytest.mark.parametrize("alpha", [[1.0, -1.0, 1.0], [1.0, float("nan"), 1.0], [float("inf"), 1.0, 1.0], 1.5, True])
def test_module_checks_its_arguments_at_construction(alpha):
    with pytest.raises(ValueError, match="alpha"):
        focal_triton.SoftmaxFocalLoss(alpha=torch.tensor(alpha) if isinstance(alpha, list) else alpha)
    if isinstance(alpha, list):
        with pytest.raises(ValueError, match="alpha"):
            focal_triton.SoftmaxFocalLoss(alpha=alpha)


@pytest.mark.parametrize("module", [focal_triton.SigmoidFocalLoss, focal_triton.SoftmaxFocalLoss])
def test_modules_check_reduction_gamma_and_ignore_index_at_construction(module):
    with pytest.raises(ValueError, match="reduction"):
        module(reduction="avg")
    with pytest.raises(ValueError, match="gamma"):
        module(gamma=-1.0)
    with pytest.raises(TypeError, match="ignore_index"):
        module(ignore_index="void")


def test_autotuner_pruning_reads_keyword_arguments():
    """The autotuner calls early_config_prune(configs, positional args, **keyword args); the
    launchers pass everything by keyword, so the size must be found there.  (Under the
    interpreter one config runs and the autotuner never prunes: this is its only CPU check.)"""
    configs = [triton.Config({"BLOCK": block}, num_warps=warps) for block, warps in tuning.ELEMENTWISE_CONFIGS]
    fitting = tuning._prune_to_size(configs, {}, n=1500, size_bucket=11)
    assert [c.kwargs["BLOCK"] for c in fitting] == [1024, 2048, 2048]
    assert tuning._prune_to_size(configs, {"n": 10}) == configs[:1]
