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
        "softmax_focal_small_c",
        "softmax_focal_soft",
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
    keys = {"kernel", "arch", "dtype", "config", "registers", "spill_bytes", "shared_bytes", "load_bits",
            "store_bits", "bytes_per_element", "sass_per_element", "mufu_per_element"}  # fmt: skip
    assert all(set(row) == keys for row in report)  # the fields `focal-triton report --json` documents


# ptxas of triton 3.9 gives this one variant 96 registers and 8 bytes of stack (two words
# stored once per program, outside the element math); compiled for any gamma it takes 140
# registers and none.  Listed so that any other spill fails.
KNOWN_SPILLS = {("sigmoid_focal_fwd[none+grad]", "sm_80", "float16/float16", "BLOCK=2048,num_warps=4"): 8}


def test_no_spills(report):
    spills = {(r["kernel"], r["arch"], r["dtype"], r["config"]): r["spill_bytes"] for r in report if r["spill_bytes"]}
    assert all(KNOWN_SPILLS.get(key) == spilled for key, spilled in spills.items()), spills


def _widest_expected(row):
    """(widest load, widest store): 128-bit, except the small-C softmax, which holds 4 rows of
    16-bit logits a thread (64-bit logit loads and gradient stores; 8 rows spill; its widest
    load is the int64 targets'), and sum_partials, which stores one scalar."""
    if row["kernel"].startswith("softmax_focal_small_c") and row["dtype"].startswith(("bfloat16", "float16")):
        return 128, 64
    return 128, 32 if row["kernel"] == "sum_partials" else 128


def test_vectorised_global_access(report):
    assert [row for row in report if (row["load_bits"], max(row["store_bits"], 32)) != _widest_expected(row)] == []


def test_bytes_model(report):
    by_key = {(r["kernel"], r["dtype"]): r["bytes_per_element"] for r in report}
    assert by_key[("sigmoid_focal_fwd[mean+grad]", "float32/float32")] == 12  # read x, read t, write grad
    assert by_key[("sigmoid_focal_fwd[mean+grad]", "bfloat16/uint8")] == 5
    assert by_key[("sigmoid_focal_fwd[none+grad]", "float32/float32")] == 16
    assert by_key[("softmax_focal_fwd[rows C=80, mean+grad]", "float32/int64")] == 8  # read x, write grad
    assert by_key[("softmax_focal_fwd[rows C=32000, mean+grad]", "float32/int64")] == 12  # two reads


# Instruction budget on an H100 (sm_90): 132 SMs x 4 schedulers x 32 lanes x ~1.75 GHz = ~29.6 T
# thread-instructions/s; at ~3 TB/s a kernel moving B bytes per element has ~29.6e12 / (3e12 / B)
# = ~10 B instructions per element before it is issue-bound: ~50 at 5 B (bf16 logits, uint8
# labels, gradient), ~120 at 12 B (fp32), ~80 at 8 B (softmax fp32 with the gradient).
# The ceilings are today's counts (triton 3.9's compiler) plus a little: a regression fails here,
# on a CPU.  Issue 12's targets (<= 45 binary bf16/uint8 at gamma 2, <= 30 softmax C = 80) are
# not met yet; see the README.
SASS_CEILINGS = {  # (kernel, dtype, config) on sm_90 -> most instructions per element, most MUFU per element
    ("sigmoid_focal_fwd[mean+grad]", "bfloat16/uint8", "BLOCK=2048,num_warps=4"): (76, 3.1),
    ("sigmoid_focal_fwd[mean+grad, any gamma]", "bfloat16/uint8", "BLOCK=2048,num_warps=4"): (81, 4.1),
    ("sigmoid_focal_fwd[mean+grad]", "float32/float32", "BLOCK=2048,num_warps=4"): (111, 4.1),
    ("sigmoid_focal_fwd[mean+grad]", "float16/float16", "BLOCK=2048,num_warps=4"): (104, 4.1),
    ("softmax_focal_fwd[rows C=80, mean+grad]", "float32/int64", "BLOCK_S=32,BLOCK_C=128,num_warps=8"): (104, 3.0),
    ("softmax_focal_small_c[nchw C=21, mean+grad]", "float32/int64", "BLOCK_S=512,num_warps=4"): (37, 2.2),
    ("softmax_focal_small_c[nchw C=21, mean+grad]", "bfloat16/int64", "BLOCK_S=512,num_warps=4"): (40, 2.2),
    ("softmax_focal_fwd[rows C=32000, mean+grad]", "float32/int64", "BLOCK_S=1,BLOCK_C=4096,num_warps=8"): (49, 2.4),
    # the options of detection heads (issue 13): a per-anchor weight and a device normalizer cost
    # ~12 instructions per logit over the plain class-index call (148.8); the soft-target softmax
    # (label smoothing) runs the focal math on every class, not once per row
    ("sigmoid_focal_index_fwd[rows C=80, mean+grad, weighted]", "float32/int64",
     "BLOCK_S=32,BLOCK_C=128,num_warps=16"): (164, 6.8),
    ("softmax_focal_soft[rows C=80, mean+grad, label smoothing]", "float32/int64",
     "BLOCK_S=32,BLOCK_C=128,num_warps=16"): (178, 5.4),
    ("softmax_focal_soft[rows C=32000, mean+grad, label smoothing]", "float32/int64",
     "BLOCK_S=1,BLOCK_C=4096,num_warps=16"): (161, 5.5),
    # the focal family (issue 14) at gamma / beta 2
    ("sigmoid_focal_fwd[varifocal, mean+grad]", "float32/float32", "BLOCK=2048,num_warps=4"): (102, 3.1),
    ("sigmoid_focal_fwd[varifocal, mean+grad]", "bfloat16/bfloat16", "BLOCK=2048,num_warps=4"): (97, 3.1),
    ("sigmoid_focal_index_fwd[rows C=80, varifocal, index+scores, mean+grad]", "float32/int64",
     "BLOCK_S=32,BLOCK_C=128,num_warps=16"): (165, 5.2),
    ("sigmoid_focal_index_fwd[rows C=80, quality focal, index+scores, mean+grad]", "float32/int64",
     "BLOCK_S=32,BLOCK_C=128,num_warps=16"): (181, 6.8),
    ("softmax_focal_soft[rows C=17, distribution focal, mean+grad]", "float32/float32",
     "BLOCK_S=128,BLOCK_C=32,num_warps=16"): (137, 4.3),
}


def test_instructions_per_element_stay_under_their_ceilings(report):
    by_key = {(r["kernel"], r["dtype"], r["config"]): r for r in report if r["arch"] == "sm_90"}
    for key, (most, most_mufu) in SASS_CEILINGS.items():
        row = by_key[key]
        assert row["sass_per_element"] <= most and row["mufu_per_element"] <= most_mufu, (key, row)


def test_gamma_two_is_compiled_without_exp2_or_log2(report):
    by_key = {(r["kernel"], r["dtype"], r["config"]): r for r in report if r["arch"] == "sm_90"}
    compared = 0
    for (kernel, dtype, config), row in by_key.items():
        general = by_key.get((kernel.replace("+grad]", "+grad, any gamma]"), dtype, config))
        if general is not None and general is not row:
            assert row["mufu_per_element"] <= general["mufu_per_element"] - 0.99, (kernel, dtype)  # one MUFU fewer
            compared += 1
    assert compared == 6
