"""The ``focal-triton`` command: bench, tune and report."""

import argparse
import os
import sys


def _report(args):
    if os.environ.get("TRITON_INTERPRET") == "1":
        # AOT compilation needs compiled (not interpreted) kernels; Triton reads
        # TRITON_INTERPRET at import, so start again without it.
        env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
        os.execve(sys.executable, [sys.executable, "-m", "focal_triton.perf.cli", *sys.argv[1:]], env)
    from .report import run

    run(args.arch.split(","), args.json)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="focal-triton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser(
        "report",
        help="AOT-compile every kernel x config x dtype; print registers, "
        "spills, shared memory, widest loads/stores and the bytes model",
    )
    report.add_argument("--arch", default="sm_80,sm_90", help="comma-separated targets (default sm_80,sm_90)")
    report.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    report.set_defaults(handler=_report)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
