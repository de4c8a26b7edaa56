"""focal-triton: benchmark, tune and inspect the focal_triton kernels."""

import argparse
import os
import sys


def _rerun_with_interpreter(enabled):
    """Triton reads TRITON_INTERPRET when it is imported: start again with it set
    (``enabled``) or unset, when the current process has it the other way."""
    if (os.environ.get("TRITON_INTERPRET") == "1") == enabled:
        return
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if enabled:
        env["TRITON_INTERPRET"] = "1"
    os.execve(sys.executable, [sys.executable, "-m", "focal_triton.perf.cli", *sys.argv[1:]], env)


def _cuda_available():
    import torch

    return torch.cuda.is_available()


def _bench(args):
    _rerun_with_interpreter(not _cuda_available())  # CPU: the real kernels through the interpreter
    from .bench import run

    run(args)
    return 0


def _tune(args):
    _rerun_with_interpreter(not _cuda_available())
    from .tune import run

    run(args)
    return 0


def _report(args):
    _rerun_with_interpreter(False)  # AOT compilation needs compiled, not interpreted, kernels
    from .report import run

    run(args.arch.split(","), args.json)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="focal-triton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="time focal_triton, eager and torch.compile over sizes; CSV + plots")
    bench.add_argument("--loss", choices=("sigmoid", "softmax", "all"), default="all")
    bench.add_argument("--dtype", default="float32,bfloat16,float16", help="comma-separated logits dtypes")
    bench.add_argument("--mode", default="fwd,fwd_bwd", help="fwd (no grad), fwd_bwd, or both")
    bench.add_argument("--sizes", default="", help="comma-separated numbers of logits (default: a sweep)")
    bench.add_argument("--providers", default="focal_triton,eager,compile")
    bench.add_argument("--out", default="bench-out", help="folder for results.csv and the plots")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and dtype pairs (implied without CUDA)")
    bench.set_defaults(handler=_bench)

    tune = commands.add_parser("tune", help="autotune the kernels per size bucket and dtype; print the winners")
    tune.add_argument("--loss", choices=("sigmoid", "softmax", "all"), default="all")
    tune.add_argument("--dtype", default="float32,bfloat16,float16")
    tune.add_argument("--quick", action="store_true", help="fewer size buckets")
    tune.add_argument("--save", action="store_true", help="write the table as focal_triton/configs/sm<arch>.json")
    tune.set_defaults(handler=_tune)

    report = commands.add_parser("report", help="AOT-compile every kernel x config x dtype; print registers, "
                                 "spills, shared memory, widest loads/stores and the bytes model")  # fmt: skip
    report.add_argument("--arch", default="sm_80,sm_90", help="comma-separated targets (default sm_80,sm_90)")
    report.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    report.set_defaults(handler=_report)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
