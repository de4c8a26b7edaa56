"""A RetinaNet-style classification head trained for a few steps on synthetic data with
each focal_triton loss, eager and under torch.compile; prints the loss of every step.

    python examples/train_retinanet_head.py [--steps 30] [--no-compile] [--losses softmax,...]

Every loss is the sum normalised by the number of positive positions, as detection heads
do, with the count passed as ``normalizer=`` (a device tensor: no host sync).  Without CUDA it
re-runs itself with TRITON_INTERPRET=1, so the Triton kernels run on
the CPU (about 50 s for the six runs on 2 cores, warm caches).
"""

import argparse
import os
import sys
import time

import torch

if not torch.cuda.is_available() and "TRITON_INTERPRET" not in os.environ:
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "TRITON_INTERPRET": "1"})

import focal_triton

NUM_CLASSES = 8
BACKGROUND = NUM_CLASSES  # class-index targets: C means "no object here"


class ClassificationHead(torch.nn.Module):
    """Two 3x3 convs and a per-anchor class predictor, as in RetinaNet (one anchor per position)."""

    def __init__(self, channels=16, num_classes=NUM_CLASSES):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(channels, channels, 3, padding=1),
            torch.nn.ReLU(),
            torch.nn.Conv2d(channels, channels, 3, padding=1),
            torch.nn.ReLU(),
        )
        self.classifier = torch.nn.Conv2d(channels, num_classes, 3, padding=1)
        torch.nn.init.constant_(self.classifier.bias, -4.6)  # prior 0.01, as RetinaNet

    def forward(self, features):
        return self.classifier(self.body(features))


def synthetic_batch(generator, device, batch=4, channels=16, size=12):
    """Features whose first channels encode the class at a few object positions; the rest is background."""
    classes = torch.full((batch, size, size), BACKGROUND, dtype=torch.int64)
    objects = torch.rand(batch, size, size, generator=generator) < 0.05
    classes[objects] = torch.randint(0, NUM_CLASSES, (int(objects.sum()),), generator=generator)
    features = torch.randn(batch, channels, size, size, generator=generator) * 0.1
    features[:, :NUM_CLASSES] += 3 * one_hot(classes)
    return features.to(device), classes.to(device)


def one_hot(classes):
    """(N, C, H, W) float one-hot of class indices; the background class gives all zeros."""
    return torch.nn.functional.one_hot(classes, NUM_CLASSES + 1)[..., :NUM_CLASSES].permute(0, 3, 1, 2).float()


def sigmoid_on_class_indices(logits, classes):
    """The detection head: summed over anchors and classes, normalised by the positives."""
    positives = (classes != BACKGROUND).sum().clamp(min=1)  # stays on the device: read by the kernel
    return focal_triton.sigmoid_focal_loss(logits, classes, reduction="mean", normalizer=positives)


def sigmoid_on_one_hot(logits, classes):
    """The same with an explicit one-hot target of the logits' shape (the torchvision form)."""
    positives = (classes != BACKGROUND).sum().clamp(min=1)
    return focal_triton.sigmoid_focal_loss(logits, one_hot(classes), reduction="mean", normalizer=positives)


def softmax_with_background(logits, classes):
    """Softmax over the classes plus a background logit fixed at 0, normalised by the positives."""
    positives = (classes != BACKGROUND).sum().clamp(min=1)
    with_background = torch.cat([logits, torch.zeros_like(logits[:, :1])], dim=1)
    return focal_triton.softmax_focal_loss(with_background, classes, normalizer=positives)


LOSSES = {
    "sigmoid_class_indices": sigmoid_on_class_indices,
    "sigmoid_one_hot": sigmoid_on_one_hot,
    "softmax": softmax_with_background,
}


STEPS_PER_LINE = 10


def train(loss_name, compiled, steps, device):
    """Train a fresh head for ``steps`` steps; print each step's loss as it comes, ten a line."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = ClassificationHead().to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = LOSSES[loss_name]

    def forward(features, classes):
        return loss_fn(model(features), classes)

    if compiled:
        forward = torch.compile(forward, fullgraph=True)  # model and loss in one graph; backward compiled too
    history = []
    for step in range(steps):
        if step % STEPS_PER_LINE == 0:
            last = min(step + STEPS_PER_LINE, steps)
            print(f"  steps {step + 1:>3}-{last:<3}", end="", flush=True)
        features, classes = synthetic_batch(generator, device)
        optimizer.zero_grad(set_to_none=True)
        loss = forward(features, classes)
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
    parser.add_argument(
        "--losses", default=",".join(LOSSES), help=f"comma-separated, of: {', '.join(LOSSES)} (default: all)"
    )
    parser.add_argument("--no-compile", action="store_true", help="the eager runs only, no torch.compile")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device}, backend: {focal_triton.backend_for(torch.empty(0, device=device))}")
    modes = (False,) if args.no_compile else (False, True)
    chosen = [name.strip() for name in args.losses.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in LOSSES]
    if unknown or not chosen:
        parser.error(f"--losses: {args.losses!r}: expected a comma-separated list of {', '.join(LOSSES)}")
    for loss_name in chosen:
        for compiled in modes:
            print(f"{loss_name}, {'compiled' if compiled else 'eager'}:")
            start = time.perf_counter()
            history = train(loss_name, compiled, args.steps, device)
            change = history[-1] / history[0] - 1
            print(
                f"  loss {history[0]:.3f} -> {history[-1]:.3f} ({change:+.1%}) in {time.perf_counter() - start:.1f} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
