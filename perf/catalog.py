"""Every kernel x dtype x shipped config that focal_triton launches, as AOT-compilable variants.

Used by ``focal-triton report`` and by the compile test.
"""

import torch
import triton.language as tl
from focal_triton.kernels.class_walk import TARGETS_DISTANCE, TARGETS_INDEX, TARGETS_INDEX_SCORES, tiles_unroll
from focal_triton.kernels.grad_scale import scale_grad_bytes_per_element, scale_grad_kernel
from focal_triton.kernels.operands import OPERAND_NONE, OPERAND_SCALAR
from focal_triton.kernels.quality_focal import FOCAL, QUALITY_FOCAL, VARIFOCAL
from focal_triton.kernels.reduce import (
    DENOMINATOR_COUNT,
    DENOMINATOR_NUMBER,
    DENOMINATOR_TENSOR,
    count_kept_bytes_per_element,
    count_kept_kernel,
    sum_partials_kernel,
)
from focal_triton.kernels.sigmoid_focal import (
    sigmoid_focal_bytes_per_element,
    sigmoid_focal_fwd_kernel,
    sigmoid_focal_index_bytes_per_element,
    sigmoid_focal_index_fwd_kernel,
)
from focal_triton.kernels.softmax_focal import (
    softmax_focal_bytes_per_element,
    softmax_focal_fwd_kernel,
    softmax_focal_small_c_kernel,
    softmax_focal_soft_bytes_per_element,
    softmax_focal_soft_kernel,
)
from focal_triton.kernels.stable_math import ANY_GAMMA

from focal_triton.tuning import (
    COUNT_CONFIG,
    ELEMENTWISE_CONFIGS,
    REDUCE_BLOCK,
    SCALE_CONFIG,
    RowsLayout,
    grad_buffer_dtype,
    rows_of_c,
    small_c_tile,
    tile_shape,
    wide_class_offsets,
)

from .aot import KernelVariant


def _size(dtype_name):
    return getattr(torch, dtype_name).itemsize


SHORT_DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "uint8": "u8"}

# The case ids tests/test_compiled_code.py holds ceilings for (the report's "case" field).
CASES = (
    "binary-bf16-u8-mean-g2",
    "binary-bf16-u8-mean-anyg",
    "binary-fp32-fp32-mean-g2",
    "binary-fp32-fp32-mean-anyg",
    "binary-fp16-fp16-mean-g2",
    *(
        f"{case}-{dtype}-mean"
        for dtype in ("fp32", "bf16")
        for case in (
            "index-c80",
            "varifocal-index-c80",
            "qfl-index-c80",
            "softmax-rows-c80",
            "softmax-rows-c1000",
            "softmax-nchw-c21",
            "softmax-rows-c2",
            "smoothing-rows-c80",
            "dfl-17",
        )
    ),
)


def case_id(case):
    """``case`` when it is one of CASES, else "" (a variant without ceilings of its own)."""
    return case if case in CASES else ""


def layout_ints(num_classes, rows, strides, block_s, names):
    """The integer arguments of a class walk at the modelled launch: the report compiles them with the
    divisibility Triton would see (aot.KernelVariant.int_values)."""
    values = {"S": rows, "C": num_classes, "n_s_blocks": -(-rows // block_s), "ignore_index": -100}
    values.update(zip(names, strides * 2, strict=True))
    return values


def _grad_dtype(dtype_name):
    return str(grad_buffer_dtype(getattr(torch, dtype_name))).replace("torch.", "")


GAMMA_LABELS = {2: "", ANY_GAMMA.value: ", any gamma"}  # GAMMA = 2 (the default) is compiled for every config

# The constexprs of the options detection heads pass (weight, normalizer, label smoothing, ...), off:
# every variant below is the plain call.
OPTIONS_OFF = {
    "POS_WEIGHT_MODE": OPERAND_NONE,
    "SMOOTHING": False,
    "ACTIVATED": False,
    "LOSS": FOCAL,
    "DETACH": False,
    "ZERO_FACTOR": False,
    "POLY": False,
}
# The class-index sigmoid kernel's plain call: one-hot targets, a loss per element.
INDEX_TARGETS = {"TARGETS": TARGETS_INDEX, "ROW_LOSS": False}
FLAT_OPERANDS_OFF = {"ALPHA_DIMS": 1, "POS_WEIGHT_DIMS": 1, "WEIGHT_DIMS": 1}

# (logits dtype, targets dtype) pairs the binary kernel is compiled for.
SIGMOID_DTYPES = (("float32", "float32"), ("bfloat16", "uint8"), ("float16", "float16"))


BINARY_ELEMENTS = 1 << 24  # the modelled launch: 16M elements, so 2048 streams of 8 steps


def sigmoid_variants(block, gamma=2, headline=False):
    """The binary kernel for every dtype pair, 'mean' and 'none', with the gradient; ``gamma``:
    the GAMMA it is compiled for (2, the default, or ANY_GAMMA); ``headline``: the config whose
    'mean' rows carry the binary case ids."""
    for x_dtype, t_dtype in SIGMOID_DTYPES:
        case = f"binary-{SHORT_DTYPES[x_dtype]}-{SHORT_DTYPES[t_dtype]}-mean-{'g2' if gamma == 2 else 'anyg'}"
        for reduce in (True, False):
            yield KernelVariant(
                name=f"sigmoid_focal_fwd[{'mean' if reduce else 'none'}+grad{GAMMA_LABELS[gamma]}]",
                fn=sigmoid_focal_fwd_kernel,
                pointers={
                    "x_ptr": x_dtype,
                    "t_ptr": t_dtype,
                    "loss_ptr": x_dtype,
                    "partial_ptr": "float32",
                    "grad_ptr": _grad_dtype(x_dtype),
                },
                constexprs={
                    **OPTIONS_OFF,
                    **FLAT_OPERANDS_OFF,
                    "ALPHA_MODE": OPERAND_SCALAR,
                    "GAMMA": gamma,
                    "HARD_LABELS": t_dtype == "uint8",
                    "IGNORE": False,
                    "DENOMINATOR": DENOMINATOR_NUMBER,
                    "REDUCE": reduce,
                    "WRITE_GRAD": True,
                    "COMPUTE": tl.float32,
                    "BLOCK": block,
                },
                ints=("n", "streams", "ignore_label", "size_bucket"),
                int_values={"n": BINARY_ELEMENTS, "streams": 2048, "ignore_label": 0, "size_bucket": 24},
                floats=(
                    "alpha",
                    "alpha_remainder",
                    "gamma",
                    "gamma_remainder",
                    "pos_weight",
                    "pos_weight_remainder",
                    "label_smoothing",
                    "label_smoothing_remainder",
                    "poly_epsilon",
                    "poly_epsilon_remainder",
                    "denominator",
                    "denominator_remainder",
                ),
                dtype=f"{x_dtype}/{t_dtype}",
                elements_per_program=block,
                grid_stride=True,
                case=case_id(case) if headline and reduce else "",
                bytes_per_element=sigmoid_focal_bytes_per_element(
                    _size(x_dtype), _size(t_dtype), reduce, True, _size(_grad_dtype(x_dtype))
                ),
            )


def scale_grad_variants(block):
    for dtype in ("float32", "bfloat16"):
        yield KernelVariant(
            name="scale_grad",
            fn=scale_grad_kernel,
            pointers={"grad_ptr": dtype, "grad_out_ptr": dtype, "scale_ptr": "float32"},
            constexprs={"COMPUTE": tl.float32, "BLOCK": block},
            ints=("n",),
            dtype=dtype,
            elements_per_program=block,
            bytes_per_element=scale_grad_bytes_per_element(_size(dtype)),
        )


CLASS_FLOATS = (
    "alpha",
    "alpha_remainder",
    "gamma",
    "gamma_remainder",
    "denominator",
    "denominator_remainder",
    "pos_weight",
    "pos_weight_remainder",
    "label_smoothing",
    "label_smoothing_remainder",
    "poly_epsilon",
    "poly_epsilon_remainder",
)

# Multiclass layouts the launcher meets: (label, C, B, S, stride_b, stride_c, stride_s), strides in elements.
CLASS_LAYOUTS = (
    ("rows C=80", 80, 1, 1 << 20, 0, 1, 80),  # (N, C) detection scores
    ("rows C=32000", 32000, 1, 4096, 0, 1, 32000),  # language-model vocabulary: online softmax
    ("nchw C=21", 21, 8, 512 * 512, 21 * 512 * 512, 512 * 512, 1),  # segmentation, classes strided
    ("channels_last C=80", 80, 1, 8 * 100 * 100, 0, 1, 80),
    ("nchw C=19 2**27 pixels", 19, 1, 1 << 27, 19 << 27, 1 << 27, 1),  # C * H * W > 2**31: 64-bit class offsets
    ("rows C=1000", 1000, 1, 1 << 16, 0, 1, 1000),  # ImageNet classes: a row stride not 16-divisible
    ("rows C=2", 2, 1, 1 << 22, 0, 1, 2),  # a binary head as a softmax
)
CLASS_CASES = {"rows C=80": "c80", "rows C=1000": "c1000", "rows C=2": "c2", "nchw C=21": "c21"}


def class_case(kernel_case, label, dtype):
    """The case id of a class walk, e.g. softmax-rows-c80-bf16-mean ("" where none is listed)."""
    layout = "nchw" if label.startswith("nchw") else "rows"
    return case_id(
        f"{kernel_case}{'-' + layout if kernel_case != 'index' else ''}-{CLASS_CASES.get(label, '')}"
        f"-{SHORT_DTYPES[dtype]}-mean"
    )


INDEX_BYTES = 8  # an int64 class index per row


def index_logits_per_row(num_classes, block_c):
    """Logits of a row a class walk's static code covers: all C where its class tiles unroll, one
    tile where they loop (a loop body counts once)."""
    return num_classes if tiles_unroll(num_classes, block_c) else min(num_classes, block_c)


def small_c_variant(label, num_classes, dtype, tile, unit, pointers, shared, int_values):
    """(variant, num_warps) of the small-C softmax kernel (classes strided, or rows of two classes)."""
    block_s, _, num_warps = tile
    constexprs = {
        **unit,
        **{k: v for k, v in shared.items() if k != "BLOCK_C"},
        "BLOCK_S": block_s,
        "C": num_classes,
        "ALPHA_MODE": OPERAND_SCALAR,
        "TARGETS": TARGETS_INDEX,
    }
    variant = KernelVariant(
        name=f"softmax_focal_small_c[{label}, mean+grad]",
        fn=softmax_focal_small_c_kernel,
        pointers={**pointers, "alpha_ptr": "float32"},
        constexprs=constexprs,
        ints=(
            "S",
            "n_s_blocks",
            "ignore_index",
            *(
                n
                for n in ("stride_xb", "stride_xc", "stride_xs", "stride_gb", "stride_gc", "stride_gs")
                if n not in unit
            ),
        ),
        int_values={**int_values, "n_s_blocks": -(-int_values["S"] // block_s)},
        floats=CLASS_FLOATS,
        dtype=f"{dtype}/int64",
        elements_per_program=block_s * num_classes,
        bytes_per_element=softmax_focal_bytes_per_element(_size(dtype), True, target_bytes=INDEX_BYTES / num_classes),
        case=class_case("softmax", label, dtype),
    )
    return variant, num_warps


def class_variants(dtype):
    """(variant, num_warps) of both multiclass kernels for each layout of CLASS_LAYOUTS."""
    for label, num_classes, batches, rows, *strides in CLASS_LAYOUTS:
        layout = RowsLayout(batches, rows, tuple(strides), tuple(strides))
        block_s, block_c, softmax_warps = tile_shape(num_classes, layout, "softmax_focal_fwd", _size(dtype))
        index_warps = tile_shape(num_classes, layout, "sigmoid_focal_index_fwd", _size(dtype))[2]
        single_tile = num_classes <= block_c
        names = ("stride_xb", "stride_xc", "stride_xs", "stride_gb", "stride_gc", "stride_gs")
        unit = {name: 1 for name, stride in zip(names, strides * 2, strict=True) if stride == 1}  # Triton specialises 1
        ints = ("S", "C", "n_s_blocks", "ignore_index", *(name for name in names if name not in unit))
        shared = {
            "BLOCK_S": block_s,
            "BLOCK_C": block_c,
            "COMPUTE": tl.float32,
            "REDUCE": True,
            "WRITE_GRAD": True,
            "DENOMINATOR": DENOMINATOR_COUNT,
            "WIDE_CLASS_OFFSETS": wide_class_offsets(num_classes, layout),
            "GAMMA": 2,
            "ROWS_OF_C": rows_of_c(num_classes, layout),
        }
        pointers = {
            "x_ptr": dtype,
            "t_ptr": "int64",
            "loss_ptr": dtype,
            "partial_ptr": "float32",
            "grad_ptr": dtype,
            "denominator_ptr": "int64",
        }
        int_values = layout_ints(num_classes, rows, strides, block_s, names)
        small_c = small_c_tile("softmax_focal_fwd", num_classes, layout)
        if small_c is not None:  # what the softmax launches there
            yield small_c_variant(label, num_classes, dtype, small_c, unit, pointers, shared, int_values)
        else:
            yield (
                KernelVariant(
                    name=f"softmax_focal_fwd[{label}, mean+grad]",
                    fn=softmax_focal_fwd_kernel,
                    pointers={**pointers, "alpha_ptr": "float32"},
                    constexprs={
                        **unit,
                        **shared,
                        "ALPHA_MODE": OPERAND_SCALAR,
                        "SINGLE_TILE": single_tile,
                        "C": num_classes,
                    },
                    ints=tuple(name for name in ints if name != "C"),
                    int_values=int_values,
                    floats=CLASS_FLOATS,
                    dtype=f"{dtype}/int64",
                    elements_per_program=block_s * index_logits_per_row(num_classes, block_c),
                    # the ideal: one read of a row of any length (on chip), the gradient written
                    bytes_per_element=softmax_focal_bytes_per_element(
                        _size(dtype), True, target_bytes=INDEX_BYTES / num_classes
                    ),
                    case=class_case("softmax", label, dtype),
                ),
                softmax_warps,
            )
        index_s, index_c, index_warps = tile_shape(num_classes, layout, "sigmoid_focal_index_fwd", _size(dtype))
        yield (
            KernelVariant(
                name=f"sigmoid_focal_index_fwd[{label}, mean+grad]",
                fn=sigmoid_focal_index_fwd_kernel,
                pointers=pointers,
                constexprs={
                    **unit,
                    **shared,
                    **OPTIONS_OFF,
                    **INDEX_TARGETS,
                    "ALPHA_MODE": OPERAND_SCALAR,
                    "GAMMA": 2,
                    "C": num_classes,
                    "BLOCK_S": index_s,
                    "BLOCK_C": index_c,
                },
                ints=tuple(name for name in ints if name != "C"),
                int_values=layout_ints(num_classes, rows, strides, index_s, names),
                floats=CLASS_FLOATS,
                dtype=f"{dtype}/int64",
                elements_per_program=index_s * index_logits_per_row(num_classes, index_c),
                bytes_per_element=sigmoid_focal_index_bytes_per_element(
                    _size(dtype), reduce=True, operand_bytes=INDEX_BYTES / num_classes
                ),
                case=class_case("index", label, dtype),
            ),
            index_warps,
        )


def head_option_variants(dtype):
    """(variant, num_warps) of the calls detection heads make with options: the class-index sigmoid
    loss with a per-anchor weight and a device normalizer (RetinaNet / mmdet), and the soft-target
    softmax kernel with label smoothing, one tile (C = 80) and three passes (C = 32000)."""
    for label, num_classes, batches, rows, *strides in CLASS_LAYOUTS[:2]:
        layout = RowsLayout(batches, rows, tuple(strides), tuple(strides))
        names = ("stride_xb", "stride_xc", "stride_xs", "stride_gb", "stride_gc", "stride_gs")
        unit = {name: 1 for name, stride in zip(names, strides * 2, strict=True) if stride == 1}
        ints = ("S", "C", "n_s_blocks", "ignore_index", *(name for name in names if name not in unit))
        pointers = {
            "x_ptr": dtype,
            "t_ptr": "int64",
            "loss_ptr": dtype,
            "partial_ptr": "float32",
            "grad_ptr": dtype,
            "denominator_ptr": "float32",
            "weight_ptr": "float32",
        }
        shared = {
            "COMPUTE": tl.float32,
            "REDUCE": True,
            "WRITE_GRAD": True,
            "DENOMINATOR": DENOMINATOR_TENSOR,
            "WIDE_CLASS_OFFSETS": wide_class_offsets(num_classes, layout),
            "ROWS_OF_C": rows_of_c(num_classes, layout),
        }
        if num_classes <= 80:
            block_s, block_c, warps = tile_shape(num_classes, layout, "sigmoid_focal_index_fwd", _size(dtype))
            yield (
                KernelVariant(
                    name=f"sigmoid_focal_index_fwd[{label}, mean+grad, weighted]",
                    fn=sigmoid_focal_index_fwd_kernel,
                    pointers=pointers,
                    constexprs={
                        **unit,
                        **shared,
                        **OPTIONS_OFF,
                        **INDEX_TARGETS,
                        "ALPHA_MODE": OPERAND_SCALAR,
                        "GAMMA": 2,
                        "BLOCK_S": block_s,
                        "BLOCK_C": block_c,
                        "C": num_classes,
                    },
                    ints=(*(name for name in ints if name != "C"), "stride_wb", "stride_wc", "stride_ws"),
                    int_values={
                        **layout_ints(num_classes, rows, strides, block_s, names),
                        "stride_wb": 0,
                        "stride_wc": 0,
                        "stride_ws": 1,
                    },  # a per-anchor weight broadcast over classes
                    floats=CLASS_FLOATS,
                    dtype=f"{dtype}/int64",
                    elements_per_program=block_s * index_logits_per_row(num_classes, block_c),
                    # x read, the gradient written, an int64 index and a float32 weight per row
                    bytes_per_element=sigmoid_focal_index_bytes_per_element(
                        _size(dtype), reduce=True, operand_bytes=(INDEX_BYTES + 4) / num_classes
                    ),
                ),
                warps,
            )
        block_s, block_c, warps = tile_shape(num_classes, layout, "softmax_focal_soft", _size(dtype))
        single_tile = num_classes <= block_c
        yield (
            KernelVariant(
                name=f"softmax_focal_soft[{label}, mean+grad, label smoothing]",
                fn=softmax_focal_soft_kernel,
                # label smoothing alone, as the case is called: no weight, one alpha, class indices
                pointers={name: kind for name, kind in pointers.items() if name != "weight_ptr"},
                constexprs={
                    **unit,
                    **shared,
                    "ALPHA_MODE": OPERAND_SCALAR,
                    "GAMMA": 2,
                    "TARGETS": TARGETS_INDEX,
                    "SMOOTHING": True,
                    "SINGLE_TILE": single_tile,
                    "BLOCK_S": block_s,
                    "BLOCK_C": block_c,
                    "DENOMINATOR": DENOMINATOR_COUNT,
                    "C": num_classes,
                },
                ints=tuple(name for name in ints if name != "C"),
                int_values=layout_ints(num_classes, rows, strides, block_s, names),
                floats=CLASS_FLOATS,
                dtype=f"{dtype}/int64",
                elements_per_program=block_s * index_logits_per_row(num_classes, block_c),
                # the ideal: one read of a row of any length, the gradient written, the index
                bytes_per_element=softmax_focal_soft_bytes_per_element(
                    _size(dtype), True, dense_bytes=INDEX_BYTES / num_classes
                ),
                case=class_case("smoothing", label, dtype),
            ),
            warps,
        )


def family_variants(dtype):
    """(variant, num_warps) of the focal family's kernels as launched: varifocal against dense targets
    (the element-wise kernel) and against class indices with scores, quality focal against class
    indices with scores (RetinaNet-style (N, 80) rows), distribution focal over (N, 17) bins."""
    block, warps = ELEMENTWISE_CONFIGS[1]
    flat = {
        **OPTIONS_OFF,
        **FLAT_OPERANDS_OFF,
        "LOSS": VARIFOCAL,
        "ALPHA_MODE": OPERAND_SCALAR,
        "GAMMA": 2,
        "HARD_LABELS": False,
        "IGNORE": False,
        "DENOMINATOR": DENOMINATOR_NUMBER,
        "REDUCE": True,
        "WRITE_GRAD": True,
        "COMPUTE": tl.float32,
        "BLOCK": block,
    }
    yield (
        KernelVariant(
            name="sigmoid_focal_fwd[varifocal, mean+grad]",
            fn=sigmoid_focal_fwd_kernel,
            pointers={"x_ptr": dtype, "t_ptr": dtype, "loss_ptr": dtype, "partial_ptr": "float32", "grad_ptr": dtype},
            constexprs=flat,
            ints=("n", "streams", "ignore_label", "size_bucket"),
            int_values={"n": BINARY_ELEMENTS, "streams": 2048, "ignore_label": 0, "size_bucket": 24},
            floats=CLASS_FLOATS,
            dtype=f"{dtype}/{dtype}",
            elements_per_program=block,
            grid_stride=True,
            bytes_per_element=sigmoid_focal_bytes_per_element(_size(dtype), _size(dtype), True, True),
        ),
        warps,
    )
    label, num_classes, batches, rows, *strides = CLASS_LAYOUTS[0]
    layout = RowsLayout(batches, rows, tuple(strides), tuple(strides))
    block_s, block_c, warps = tile_shape(num_classes, layout, "sigmoid_focal_index_fwd", _size(dtype))
    walk = {
        "stride_xc": 1,
        "stride_gc": 1,
        "BLOCK_S": block_s,
        "BLOCK_C": block_c,
        "COMPUTE": tl.float32,
        "REDUCE": True,
        "WRITE_GRAD": True,
        "DENOMINATOR": DENOMINATOR_COUNT,
        "WIDE_CLASS_OFFSETS": wide_class_offsets(num_classes, layout),
        "ROWS_OF_C": rows_of_c(num_classes, layout),
    }
    pointers = {
        "x_ptr": dtype,
        "t_ptr": "int64",
        "loss_ptr": dtype,
        "partial_ptr": "float32",
        "grad_ptr": dtype,
        "denominator_ptr": "int64",
        "score_ptr": "float32",
    }
    ints = ("S", "C", "n_s_blocks", "ignore_index", "stride_xb", "stride_xs", "stride_gb", "stride_gs")
    names = ("stride_xb", "stride_xc", "stride_xs", "stride_gb", "stride_gc", "stride_gs")
    int_values = layout_ints(num_classes, rows, strides, block_s, names)
    for name, loss, row_loss, case in (
        ("varifocal", VARIFOCAL, False, "varifocal-index"),
        ("quality focal", QUALITY_FOCAL, True, "qfl-index"),
    ):
        yield (
            KernelVariant(
                name=f"sigmoid_focal_index_fwd[{label}, {name}, index+scores, mean+grad]",
                fn=sigmoid_focal_index_fwd_kernel,
                pointers=pointers,
                constexprs={
                    **walk,
                    **OPTIONS_OFF,
                    "LOSS": loss,
                    "TARGETS": TARGETS_INDEX_SCORES,
                    "ROW_LOSS": row_loss,
                    "ALPHA_MODE": OPERAND_SCALAR,
                    "GAMMA": 2,
                    "C": num_classes,
                },  # as launched: gamma / beta 2
                ints=tuple(name for name in ints if name != "C"),
                int_values=int_values,
                floats=CLASS_FLOATS,
                dtype=f"{dtype}/int64",
                elements_per_program=block_s * index_logits_per_row(num_classes, block_c),
                # x read, the gradient written, an int64 index and a float32 score per row
                bytes_per_element=sigmoid_focal_index_bytes_per_element(
                    _size(dtype), reduce=True, operand_bytes=(INDEX_BYTES + 4) / num_classes
                ),
                case=case_id(f"{case}-c80-{SHORT_DTYPES[dtype]}-mean"),
            ),
            warps,
        )
    bins = 17
    layout = RowsLayout(1, 1 << 20, (0, 1, bins), (0, 1, bins))
    block_s, _, warps = small_c_tile("distribution_focal", bins, layout)
    yield (
        KernelVariant(
            name=f"softmax_focal_small_c[rows C={bins}, distribution focal, mean+grad]",
            fn=softmax_focal_small_c_kernel,
            pointers={**pointers, "t_ptr": "float32", "alpha_ptr": "float32"},
            constexprs={
                **{k: v for k, v in walk.items() if k != "BLOCK_C"},
                "BLOCK_S": block_s,
                "C": bins,
                "ROWS_OF_C": rows_of_c(bins, layout),
                "DENOMINATOR": DENOMINATOR_NUMBER,
                "ALPHA_MODE": OPERAND_NONE,
                "GAMMA": 0,
                "TARGETS": TARGETS_DISTANCE,
            },
            ints=tuple(name for name in ints if name != "C"),
            int_values=layout_ints(bins, 1 << 20, (0, 1, bins), block_s, names),
            floats=CLASS_FLOATS,
            dtype=f"{dtype}/float32",
            elements_per_program=block_s * bins,
            # x read, the gradient written, a float32 distance per row
            bytes_per_element=softmax_focal_bytes_per_element(_size(dtype), True, target_bytes=4 / bins),
            case=case_id(f"dfl-17-{SHORT_DTYPES[dtype]}-mean"),
        ),
        warps,
    )


def variants():
    """Yields (variant, num_warps) for every shipped configuration."""
    for block, warps in ELEMENTWISE_CONFIGS:
        for variant in sigmoid_variants(block, headline=(block, warps) == ELEMENTWISE_CONFIGS[1]):
            yield variant, warps
    headline_block, headline_warps = ELEMENTWISE_CONFIGS[1]
    for variant in sigmoid_variants(headline_block, gamma=ANY_GAMMA.value, headline=True):
        yield variant, headline_warps
    for variant in scale_grad_variants(SCALE_CONFIG[0]):
        yield variant, SCALE_CONFIG[1]
    for dtype in ("float32", "bfloat16"):
        yield from class_variants(dtype)
        yield from head_option_variants(dtype)
        yield from family_variants(dtype)
    block, warps = COUNT_CONFIG
    for dtype in ("int64", "uint8"):  # class indices; hard labels with an ignore_index
        yield (
            KernelVariant(
                name="count_kept",
                fn=count_kept_kernel,
                pointers={"t_ptr": dtype, "count_ptr": "int64"},
                constexprs={"BLOCK": block},
                ints=("n", "ignore_index"),
                int_values={"n": BINARY_ELEMENTS, "ignore_index": 255 if dtype == "uint8" else -100},
                dtype=dtype,
                elements_per_program=block,
                bytes_per_element=count_kept_bytes_per_element(_size(dtype)),
            ),
            warps,
        )
    yield (
        KernelVariant(
            name="sum_partials",
            fn=sum_partials_kernel,
            pointers={"partial_ptr": "float32", "out_ptr": "float32", "denominator_ptr": "int64"},
            constexprs={
                "DENOMINATOR": DENOMINATOR_NUMBER,
                "BLOCK": REDUCE_BLOCK,
                "BLOCK_LEVELS": REDUCE_BLOCK.bit_length() - 1,
            },
            ints=("n_partials",),
            floats=("denominator", "denominator_remainder"),
            dtype="float32",
            bytes_per_element=0,  # one program over the per-program partials, not per element
        ),
        4,
    )
