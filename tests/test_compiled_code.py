"""Every shipped kernel config, compiled ahead of time for sm_80 and sm_90 without a GPU
(`focal-triton report --json`): no register spills, and 128-bit global loads and
stores for contiguous data."""

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def report():
    # A fresh process: AOT compilation needs Triton imported without TRITON_INTERPRET.
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = subprocess.run(
        [sys.executable, "-m", "focal_triton.perf.cli", "report", "--arch", "sm_80,sm_90", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return json.loads(out)


def test_report_covers_every_kernel_and_arch(report):
    kernels = {row["kernel"].split("[")[0] for row in report}
    assert kernels == {
        "sigmoid_focal_fwd",
        "scale_grad",
        "sum_partials",
        "softmax_focal_fwd",
        "sigmoid_focal_index_fwd",
    }
    kernels = {row["kernel"] for row in report}
    assert {
        "sigmoid_focal_fwd[mean+grad]",
        "sigmoid_focal_fwd[none+grad]",
        "scale_grad",
        "sum_partials",
    } <= kernels
    assert {row["arch"] for row in report} == {"sm_80", "sm_90"}
    assert all(
        set(row)
        >= {
            "registers",
            "spill_bytes",
            "shared_bytes",
            "load_bits",
            "store_bits",
            "bytes_per_element",
            "config",
            "dtype",
        }
        for row in report
    )


def test_no_spills(report):
    assert [row for row in report if row["spill_bytes"] != 0] == []


def test_vectorised_global_access(report):
    assert [row for row in report if row["load_bits"] != 128] == []
    # sum_partials stores one scalar: its widest store is the result
    assert [row for row in report if row["kernel"] != "sum_partials" and row["store_bits"] != 128] == []


def test_bytes_model(report):
    by_key = {(r["kernel"], r["dtype"]): r["bytes_per_element"] for r in report}
    assert by_key[("sigmoid_focal_fwd[mean+grad]", "float32/float32")] == 12  # read x, read t, write grad
    assert by_key[("sigmoid_focal_fwd[mean+grad]", "bfloat16/uint8")] == 5
    assert by_key[("sigmoid_focal_fwd[none+grad]", "float32/float32")] == 16
    assert by_key[("softmax_focal_fwd[rows C=80, mean+grad]", "float32/int64")] == 8  # read x, write grad
    assert by_key[("softmax_focal_fwd[rows C=32000, mean+grad]", "float32/int64")] == 12  # two reads
