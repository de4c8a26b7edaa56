"""The examples run, eager and compiled, the heads learn and the two agree."""

import os
import runpy
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")
STEPS = ("--steps", "4")


def _parse(stdout):
    """(runs, steps) of an example's output, checking that every step printed and each head learned."""
    lines = stdout.splitlines()
    runs = [line for line in lines if line.endswith(("eager:", "compiled:"))]
    steps = [line.split()[2:] for line in lines if line.startswith("  steps ")]
    results = [line.split()[1:4:2] for line in lines if line.startswith("  loss ")]
    assert len(runs) == len(steps) == len(results)
    for run, (first, last), losses in zip(runs, results, steps, strict=True):
        assert len(losses) == 4 and losses[0] == first and losses[-1] == last  # every step printed
        assert float(last) < float(first), run  # the head learns
    return runs, steps


def _run_in_process(example, capsys, *args):
    """An eager run in this process (TRITON_INTERPRET is already set here, so the example does not
    re-run itself): no interpreter start-up per example."""
    module = runpy.run_path(os.path.join(EXAMPLES, example), run_name="example")
    assert module["main"]([*STEPS, "--no-compile", *args]) == 0
    return _parse(capsys.readouterr().out)


def test_example_trains_every_loss(capsys):
    runs, _ = _run_in_process("train_retinanet_head.py", capsys)
    assert [run.split(",")[0] for run in runs] == ["sigmoid_class_indices", "sigmoid_one_hot", "softmax"]


def test_example_compiled_gives_the_eager_numbers():
    """One loss compiled, as a user runs it (its own process; on a fresh machine each compiled run
    builds Inductor's C++ kernels)."""
    script = os.path.join(EXAMPLES, "train_retinanet_head.py")
    done = subprocess.run(
        [sys.executable, script, *STEPS, "--losses", "softmax"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs, steps = _parse(done.stdout)
    assert runs == ["softmax, eager:", "softmax, compiled:"]
    assert steps[0] == steps[1]  # same numbers to 3 decimals


def test_detr_example_trains_with_the_focal_family(capsys):
    """Eager (its compiled run was checked by hand: the same numbers; the family's custom ops are
    compiled in tests/test_detection_family.py)."""
    runs, _ = _run_in_process("train_detr_head.py", capsys)
    assert runs == ["varifocal + distribution focal, eager:"]
