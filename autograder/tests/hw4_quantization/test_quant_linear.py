"""TODO5: QuantLinear (with correct helper functions in place): what it stores (int8 or packed
int4 weight, float32 scales, the float bias untouched, no float weight anywhere) and its forward
pass, against F.linear with the reference's dequantized weight and against the float layer
within half a step per weight."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from autograder.tests.hw4_quantization import cases, reference
from autograder.tests.hw4_quantization.common import value


def describe(case):
    seed, out, inp, bits, per_channel, bias = case
    return f"QuantLinear(nn.Linear({inp}, {out}, bias={bias}), bits={bits}, per_channel={per_channel})"


def reference_layer(case):
    seed, out, inp, bits, per_channel, bias = case
    layer, x = cases.linear_case(seed, out, inp, bias)
    return layer, x, reference.QuantLinear(layer, bits, per_channel)


def test_quant_linear_storage(student):
    got = student("quant_linear")["cases"]
    for k, case in enumerate(cases.LINEAR_CASES):
        seed, out, inp, bits, per_channel, bias = case
        record, name = got[str(k)], describe(case)
        layer, x, ref = reference_layer(case)
        state = record["state"]
        assert not record["float_parameters"], (
            f"{name} keeps float parameters {record['float_parameters']}: store the weight as integers in buffers "
            "(register_buffer), and no float copy of it")
        for attr, dtype, numel in record["hidden"]:
            assert not (dtype.startswith("float") and numel >= out * inp), (
                f"{name} keeps a float tensor of {numel} elements in the attribute `{attr}`: no float copy of the weight")
        missing = {"qweight", "scale"} - set(state)
        assert not missing, f"{name}'s state_dict has {sorted(state)}; it needs qweight, scale and bias buffers"
        expected_q = ref.qweight.numpy()
        if bits == 8:
            q = value(state["qweight"], f"{name}'s qweight", "int8", (out, inp))
        else:
            q = value(state["qweight"], f"{name}'s qweight", "uint8").reshape(-1)
            assert q.size == expected_q.size, (
                f"{name}'s qweight holds {q.size} bytes; the flattened {out}x{inp} weight packed two per byte is "
                f"{expected_q.size} bytes")
        scale_shape = (out, 1) if per_channel else (1, 1)
        scale = value(state["scale"], f"{name}'s scale", "float32", scale_shape)
        assert np.allclose(scale, ref.scale.numpy(), rtol=1e-6), (
            f"{name}'s scale differs from " + ("per_channel_scale(w, bits)" if per_channel else "absmax_scale(w, bits)"))
        off = int(np.sum(q.astype(np.int64) != expected_q.astype(np.int64)))
        assert off <= max(1, expected_q.size // 200), (
            f"{name}: {off} of {expected_q.size} stored {'bytes' if bits == 4 else 'integers'} differ from "
            "quantize(w, scale, bits)" + (" packed by pack_int4 (the flattened weight)" if bits == 4 else ""))
        if bias:
            assert "bias" in state, f"{name}'s state_dict has no bias: keep the layer's float bias as a buffer"
            b = value(state["bias"], f"{name}'s bias", "float32", (out,))
            assert np.array_equal(b, layer.bias.detach().numpy()), (
                f"{name}'s bias differs from the layer's float bias (largest difference "
                f"{np.max(np.abs(b - layer.bias.detach().numpy())):.3g}): keep the bias as it is, do not quantize it")
        else:
            assert state.get("bias") is None, f"nn.Linear(bias=False) has no bias; {name} stores one"


def check_forward(student, bits_wanted: int):
    got = student("quant_linear")["cases"]
    for k, case in enumerate(cases.LINEAR_CASES):
        seed, out, inp, bits, per_channel, bias = case
        if bits != bits_wanted:
            continue
        record, name = got[str(k)], describe(case)
        layer, x, ref = reference_layer(case)
        y = value(record["out"], f"{name}'s forward", None, (cases.LINEAR_BATCH, out)).astype(np.float64)
        with torch.no_grad():
            expected = ref(x).double().numpy()
            y_float = layer(x).double().numpy()
        step = ref.scale.double().view(1, -1).numpy()
        bound = x.abs().double().sum(1, keepdim=True).numpy() * step / 2 + 1e-4
        worst = float(np.max(np.abs(y - y_float) - bound))
        assert worst <= 0, (
            f"{name}: the output is further from the float layer than half a step per weight allows (by {worst:.3g} "
            "beyond the bound). Is each row dequantized with ITS OWN scale (the scale broadcast along the output "
            "rows, shape (out, 1)), and is the bias added as it is?")
        error = float(np.max(np.abs(y - expected)))
        assert error <= 1e-4 * (1 + float(np.max(np.abs(expected)))), (
            f"{name}: the output differs by up to {error:.3g} from F.linear(x, dequantized weight, bias). Dequantize "
            "exactly the stored integers with their scales, and add the float bias unchanged")


def test_quant_linear_int8_forward(student):
    check_forward(student, 8)


def test_quant_linear_int4_forward(student):
    check_forward(student, 4)
