"""DistributedDataParallel over 2 CPU processes (gloo, the interpreter path): gradients equal
single-process training on the concatenated batch, for both losses."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import focal_triton

WORLD = 2
CLASSES = 5
BACKGROUND = CLASSES


def _batch():
    """The global batch: 8 samples of 4 positions, split evenly between the ranks."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(8, 6, 4, generator=generator)
    labels = torch.randint(0, CLASSES, (8, 4), generator=generator)
    detection = torch.where(torch.rand(8, 4, generator=generator) < 0.5, labels, BACKGROUND)
    return features, labels, detection


def _model():
    torch.manual_seed(0)
    return torch.nn.Conv1d(6, CLASSES, 1)


def _losses(logits, labels, detection, num_positives):
    # softmax: 'mean' over each rank's positions; with equal, fully labelled shards the
    # average DDP takes of the ranks' gradients is the gradient of the global mean.
    softmax = focal_triton.softmax_focal_loss(logits, labels)
    # detection head: 'sum' over the shard / the positives of the whole batch averaged over
    # the ranks (the usual all-reduce of the normaliser); DDP's average then gives sum / total positives.
    sigmoid = focal_triton.sigmoid_focal_loss(logits, detection, reduction="sum") / num_positives
    return softmax + sigmoid


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    features, labels, detection = (part.chunk(WORLD)[rank] for part in _batch())
    model = torch.nn.parallel.DistributedDataParallel(_model())
    num_positives = (detection != BACKGROUND).sum().float()
    dist.all_reduce(num_positives)
    num_positives = num_positives / WORLD
    _losses(model(features), labels, detection, num_positives).backward()
    torch.save([p.grad for p in model.parameters()], os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_ddp_gradients_equal_single_process(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    features, labels, detection = _batch()
    model = _model()
    num_positives = (detection != BACKGROUND).sum().float()
    _losses(model(features), labels, detection, num_positives).backward()
    for rank in range(WORLD):
        for ddp_grad, grad in zip(
            torch.load(tmp_path / f"rank{rank}.pt"), (p.grad for p in model.parameters()), strict=True
        ):
            torch.testing.assert_close(ddp_grad, grad, rtol=1e-5, atol=1e-6)
