"""A tiny DETR / YOLO-style head trained for a few steps on synthetic data with the focal family:
varifocal loss on the class scores (RT-DETR's form: class indices with IoU scores, the weight
detached, normalised by the number of boxes) plus distribution focal loss on the box sides
(YOLO's 16 bins per side, the matched queries weighted in); eager and under torch.compile.

    python examples/train_detr_head.py [--steps 30] [--no-compile]

The number of boxes stays a device tensor (``normalizer=``): no host sync in the loss.  Without
CUDA it re-runs itself with TRITON_INTERPRET=1, so the Triton kernels run on the CPU.
"""

import argparse
import os
import sys
import time
import warnings

import torch

if not torch.cuda.is_available() and "TRITON_INTERPRET" not in os.environ:
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "TRITON_INTERPRET": "1"})

import focal_triton

# The Triton interpreter (CPU) computes masked-off lanes too and NumPy warns about their inf * 0;
# those lanes are never stored.
warnings.filterwarnings("ignore", category=RuntimeWarning, module="triton.runtime.interpreter")

NUM_CLASSES = 8  # index NUM_CLASSES = no object
BINS = 16  # distances 0 .. 15 per box side, as YOLOv8's reg_max
QUERIES = 40
FEATURES = 64


class DetrHead(torch.nn.Module):
    """Per query: class logits and a distribution over BINS for each of the 4 box sides."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Linear(FEATURES, FEATURES), torch.nn.ReLU())
        self.classes = torch.nn.Linear(FEATURES, NUM_CLASSES)
        self.sides = torch.nn.Linear(FEATURES, 4 * BINS)
        torch.nn.init.constant_(self.classes.bias, -2.0)

    def forward(self, queries):
        hidden = self.body(queries)
        return self.classes(hidden), self.sides(hidden).view(*queries.shape[:-1], 4, BINS)


def synthetic_batch(generator, device, batch=4):
    """Queries whose features encode a matched object's class and box sides; a quarter are matched
    (with an IoU score), the rest are background."""
    matched = torch.rand(batch, QUERIES, generator=generator) < 0.25
    classes = torch.where(matched, torch.randint(0, NUM_CLASSES, (batch, QUERIES), generator=generator), NUM_CLASSES)
    ious = torch.rand(batch, QUERIES, generator=generator) * matched
    sides = torch.rand(batch, QUERIES, 4, generator=generator) * (BINS - 1.01)
    queries = torch.randn(batch, QUERIES, FEATURES, generator=generator) * 0.1
    queries[..., :NUM_CLASSES] += 3 * torch.nn.functional.one_hot(classes, NUM_CLASSES + 1)[..., :NUM_CLASSES]
    queries[..., NUM_CLASSES : NUM_CLASSES + 4] += sides / 4 * matched.unsqueeze(-1)
    return [t.to(device) for t in (queries, classes, ious, sides, matched)]


def detection_loss(model, queries, classes, ious, sides, matched):
    """VFL over every (query, class) + DFL over the 4 sides of the matched queries, each normalised by
    the number of boxes (a device tensor)."""
    class_logits, side_logits = model(queries)
    num_boxes = matched.sum().clamp(min=1)
    vfl = focal_triton.varifocal_loss(
        class_logits.view(-1, NUM_CLASSES),
        classes.view(-1),
        scores=ious.view(-1),
        detach_weight=True,
        normalizer=num_boxes,
    )
    side_weight = matched.unsqueeze(-1).expand_as(sides).float()  # unmatched queries have no box
    dfl = focal_triton.distribution_focal_loss(
        side_logits.reshape(-1, BINS), sides.reshape(-1), weight=side_weight.reshape(-1), normalizer=4 * num_boxes
    )
    return vfl + dfl


STEPS_PER_LINE = 10


def train(compiled, steps, device):
    """Train a fresh head for ``steps`` steps; print each step's loss as it comes, ten a line."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = DetrHead().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-2)

    def forward(*batch):
        return detection_loss(model, *batch)

    if compiled:
        forward = torch.compile(forward, fullgraph=True)  # model and both losses in one graph
    history = []
    for step in range(steps):
        if step % STEPS_PER_LINE == 0:
            print(f"  steps {step + 1:>3}-{min(step + STEPS_PER_LINE, steps):<3}", end="", flush=True)
        optimizer.zero_grad(set_to_none=True)
        loss = forward(*synthetic_batch(generator, device))
        loss.backward()
        optimizer.step()
        history.append(loss.item())  # a host sync, once per step, to print the value
        print(
            f" {history[-1]:.3f}",
            end="\n" if len(history) % STEPS_PER_LINE == 0 or step + 1 == steps else "",
            flush=True,
        )
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--steps", type=int, default=30, help="training steps of each run (default: 30)")
    parser.add_argument("--no-compile", action="store_true", help="the eager run only, no torch.compile")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, backend: {focal_triton.backend_for(torch.empty(0, device=device))}")
    for compiled in (False,) if args.no_compile else (False, True):
        print(f"varifocal + distribution focal, {'compiled' if compiled else 'eager'}:")
        start = time.perf_counter()
        history = train(compiled, args.steps, device)
        change = history[-1] / history[0] - 1
        print(f"  loss {history[0]:.3f} -> {history[-1]:.3f} ({change:+.1%}) in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
