"""HW4 probes: run the student's code on the hidden inputs of `cases`; return plain data.

They run in the student's sandbox, compare nothing and know no expected value. Parts 5, 6 and
the real model run the student's QuantLinear and quantize_model with the reference's helper
functions (absmax_scale, quantize, dequantize, per_channel_scale, pack_int4, unpack_int4) in the
student's namespace, so that a mistake in Parts 1-4 costs only its own question; the speed check
times the student's code as it is, helpers included.
"""
from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from torch import nn

from assignments import timing
from autograder.probe import Failed, attempt, grading_device, probe
from autograder.tests.hw4_quantization import cases, reference

LOADED = {}


def prepare():
    """Load the model and tokenize the hidden reviews while the sandbox starts (before the
    student's code runs, and before the file system closes): no probe's time includes it, and
    the student's code cannot have touched them."""
    if not LOADED:
        tokenizer, model = cases.load_minilm()
        LOADED.update(model=model, batches=cases.tokenized(tokenizer, cases.test_texts()))
    return LOADED


def numbered(results: list) -> dict:
    """{"0": ..., "1": ...}: a failed case reads as its own failure in the judge."""
    return {str(i): r for i, r in enumerate(results)}


def tried(label: str, fn, *args, **kwargs):
    """attempt(), with a label saying which call of the student's code failed."""
    result = attempt(fn, *args, **kwargs)
    return Failed(f"{label}: {result.message}") if isinstance(result, Failed) else result


def typed(what: str, value) -> dict:
    """A tensor and what it was: {"type", "dtype", "shape", "value"} (the judge checks each)."""
    if value is None:
        raise TypeError(f"{what} returned None: did you forget `return`?")
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        array = value.detach().cpu()
        array = (array.to(torch.float64) if array.is_floating_point() else array.to(torch.int64)).numpy()
    else:
        array = np.asarray(value)
        dtype = str(array.dtype)
    if array.dtype.kind not in "biuf":
        array = np.zeros(0)
    return {"type": type(value).__name__, "dtype": dtype, "shape": list(np.shape(value)), "value": array}


@contextlib.contextmanager
def reference_helpers(sub, names=reference.HELPERS):
    """The reference's functions in place of the student's `names`, for the duration."""
    namespace = sub._namespace
    saved = {n: namespace[n] for n in names if n in namespace}
    namespace.update({n: getattr(reference, n) for n in names})
    try:
        yield
    finally:
        for n in names:
            namespace.pop(n, None)
        namespace.update(saved)


# ------------------------------------------------------------------ TODO1: absmax


@probe
def absmax(sub):
    def own(seed, shape, kind, bits):
        x = cases.tensor(seed, shape, kind)
        scale = sub.absmax_scale(x.clone(), bits)
        q = sub.quantize(x.clone(), scale, bits)
        return {"scale": typed("absmax_scale", scale), "q": typed("quantize", q),
                "dequantized": typed("dequantize", sub.dequantize(q, scale))}

    def known(seed, shape, scale, bits):
        x = cases.tensor(seed, shape)
        q = sub.quantize(x.clone(), torch.tensor(scale), bits)
        return {"q": typed("quantize", q)}

    def zero(shape, bits):
        x = torch.zeros(shape)
        scale = sub.absmax_scale(x, bits)
        q = sub.quantize(x, scale, bits)
        return {"scale": typed("absmax_scale", scale), "q": typed("quantize", q),
                "dequantized": typed("dequantize", sub.dequantize(q, scale))}

    return {
        "own": numbered([tried(f"absmax_scale/quantize/dequantize on a tensor of shape {c[1]}, bits={c[3]}", own, *c)
                for c in cases.ABSMAX_CASES]),
        "known": numbered([tried(f"quantize(x, scale={c[2]}, bits={c[3]})", known, *c) for c in cases.KNOWN_SCALE_CASES]),
        "zero": numbered([tried(f"absmax_scale/quantize/dequantize of an all-zero tensor, bits={b}", zero, s, b)
                 for s in cases.ZERO_SHAPES for b in (8, 4)]),
    }


# ------------------------------------------------------------------ TODO2: zero point


@probe
def asymmetric(sub):
    def own(seed, shape, kind, bits):
        x = cases.tensor(seed, shape, kind)
        result = sub.asymmetric_params(x.clone(), bits)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise TypeError("asymmetric_params must return a pair (scale, zero_point)")
        scale, zero_point = result
        q = sub.asymmetric_quantize(x.clone(), scale, zero_point, bits)
        return {"scale": typed("asymmetric_params' scale", scale),
                "zero_point": typed("asymmetric_params' zero_point", zero_point),
                "q": typed("asymmetric_quantize", q),
                "dequantized": typed("asymmetric_dequantize", sub.asymmetric_dequantize(q, scale, zero_point))}

    def known(k, scale, zero_point, bits):
        x = cases.tensor(*cases.ASYMMETRIC_CASES[k][:3])
        q = sub.asymmetric_quantize(x.clone(), torch.tensor(scale), torch.tensor(zero_point), bits)
        back = sub.asymmetric_dequantize(cases_q(x, scale, zero_point, bits), torch.tensor(scale),
                                         torch.tensor(zero_point))
        return {"q": typed("asymmetric_quantize", q), "dequantized": typed("asymmetric_dequantize", back)}

    return {
        "own": numbered([tried(f"asymmetric_params/quantize/dequantize on a tensor of shape {c[1]}, bits={c[3]}", own, *c)
                for c in cases.ASYMMETRIC_CASES]),
        "known": numbered([tried(f"asymmetric_quantize(x, scale={s}, zero_point={z}, bits={b})", known, k, s, z, b)
                  for k, (s, z, b) in enumerate(cases.ASYMMETRIC_KNOWN)]),
    }


def cases_q(x, scale, zero_point, bits):
    """Integers for asymmetric_dequantize to turn back (the reference's, as input)."""
    return reference.asymmetric_quantize(x, torch.tensor(scale), torch.tensor(zero_point), bits)


# ------------------------------------------------------------------ TODO3: per channel


@probe
def per_channel(sub):
    def run(seed, out, inp, outlier, bits):
        return typed("per_channel_scale", sub.per_channel_scale(cases.weight(seed, out, inp, outlier), bits))

    return {"scales": numbered([tried(f"per_channel_scale(a ({c[1]}, {c[2]}) weight, bits={c[4]})", run, *c)
                       for c in cases.PER_CHANNEL_CASES])}


# ------------------------------------------------------------------ TODO4: int4 packing


@probe
def packing(sub):
    def pack(seed, n):
        return typed("pack_int4", sub.pack_int4(cases.int4_values(seed, n)))

    def unpack(seed, n):
        return typed("unpack_int4", sub.unpack_int4(reference.pack_int4(cases.int4_values(seed, n)), n))

    return {"pack": numbered([tried(f"pack_int4 of {n} values", pack, s, n) for s, n in cases.PACK_CASES]),
            "unpack": numbered([tried(f"unpack_int4(packed, n={n})", unpack, s, n) for s, n in cases.PACK_CASES])}


# ------------------------------------------------------------------ TODO5: QuantLinear


def hidden_tensors(module: nn.Module) -> list:
    """[name, dtype, numel] of tensors kept as plain attributes (not buffers, not parameters):
    a float copy of the weight hidden there would still cost its bytes."""
    return [[name, str(v.dtype).replace("torch.", ""), int(v.numel())] for name, v in vars(module).items()
            if isinstance(v, torch.Tensor)]


def layer_state(module: nn.Module, what: str) -> dict:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{what} should be an nn.Module, got {type(module).__name__}")
    return {"state": {name: typed(f"{what}'s {name}", t) for name, t in module.state_dict().items()},
            "float_parameters": [n for n, p in module.named_parameters() if p.is_floating_point()],
            "hidden": [h for m in module.modules() for h in hidden_tensors(m)]}


@probe
def quant_linear(sub):
    def run(seed, out, inp, bits, per_channel, bias):
        layer, x = cases.linear_case(seed, out, inp, bias)
        with reference_helpers(sub):
            q = sub.QuantLinear(copy.deepcopy(layer), bits=bits, per_channel=per_channel)
            with torch.no_grad():
                y = q(x.clone())
        got = layer_state(q, "QuantLinear")
        got["out"] = typed("QuantLinear's forward", y)
        return got

    return {"cases": numbered([tried(f"QuantLinear(nn.Linear({c[2]}, {c[1]}, bias={c[5]}), bits={c[3]}, per_channel={c[4]})",
                            run, *c) for c in cases.LINEAR_CASES])}


# ------------------------------------------------------------------ TODO6: quantize_model


@probe
def quantize_model(sub):
    def run(bits, per_channel):
        model = cases.nested_model()
        with reference_helpers(sub, reference.HELPERS + ("QuantLinear",)):
            returned = sub.quantize_model(model, bits, per_channel)
            if not isinstance(returned, nn.Module):
                raise TypeError(f"quantize_model should return the model, got {type(returned).__name__}")
            with torch.no_grad():
                y = returned(cases.nested_input())
        return {"same_object": returned is model,
                "modules": {name: type(m).__name__ for name, m in returned.named_modules()},
                "linear_left": cases.linear_layer_names(returned), "out": typed("the quantized model", y)}

    return {"configs": numbered([tried(f"quantize_model(model, bits={b}, per_channel={p})", run, b, p)
                        for b, p in cases.NESTED_CONFIGS])}


# ------------------------------------------------------------------ the real model


def stored_bytes(model: nn.Module, names: list[str]) -> dict:
    """name -> (dtype, numel, element size) of every state-dict entry under one of `names`, and of
    every tensor kept as a plain attribute of a module there."""
    out = {}
    for key, t in model.state_dict().items():
        if any(key.startswith(n + ".") for n in names):
            out[key] = [str(t.dtype).replace("torch.", ""), int(t.numel()), int(t.element_size())]
    modules = dict(model.named_modules())
    for n in names:
        if n in modules:
            for m_name, m in modules[n].named_modules():
                for attr, v in vars(m).items():
                    if isinstance(v, torch.Tensor):
                        out[f"{n}.{m_name}.{attr} (attribute)".replace("..", ".")] = [
                            str(v.dtype).replace("torch.", ""), int(v.numel()), int(v.element_size())]
    return out


@probe(timeout=240)
def real_model(sub):
    loaded = prepare()
    names = cases.linear_layer_names(loaded["model"])

    def run(bits, per_channel):
        with reference_helpers(sub):
            model = sub.quantize_model(copy.deepcopy(loaded["model"]), bits, per_channel)
            if not isinstance(model, nn.Module):
                raise TypeError(f"quantize_model should return the model, got {type(model).__name__}")
            embeddings = tried("the quantized model's sentence embeddings",
                               lambda: cases.embed(model.eval(), loaded["batches"]))
        return {"stored": stored_bytes(model, names), "linear_left": len(cases.linear_layer_names(model)),
                "embeddings": embeddings}

    return {"linear_names": names,
            "configs": {f"{b}-{'channel' if p else 'tensor'}": tried(
                f"quantize_model(all-MiniLM-L6-v2, bits={b}, per_channel={p})", run, b, p)
                for b, p in cases.REAL_CONFIGS}}


# ------------------------------------------------------------------ speed


@probe(timeout=120)
def speed(sub):
    """The student's QuantLinear forward (int8 and int4, per channel, the student's own helpers)
    against the float nn.Linear it came from: same process, same input, warmed up, alternating,
    median of the rounds' ratios."""
    device = torch.device(grading_device())
    plan = cases.speed_plan(device.type)
    shape = cases.SPEED_SHAPE
    torch.manual_seed(cases.SPEED_SEED)
    layer = nn.Linear(shape["in"], shape["out"])
    x = torch.randn(plan["tokens"], shape["in"], generator=torch.Generator().manual_seed(cases.SPEED_SEED))
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    x = x.to(device, dtype)
    float_layer = copy.deepcopy(layer).to(device, dtype)
    calls = plan["calls"]

    def timed(module):
        def run():
            with torch.no_grad():
                for _ in range(calls):
                    module(x)
        return run

    out = {"device": str(device), "timer": "cuda_events" if device.type == "cuda" else "perf_counter",
           "tokens": plan["tokens"], "in": shape["in"], "out": shape["out"], "calls": calls}
    for bits in (8, 4):
        def run(bits=bits):
            q = sub.QuantLinear(copy.deepcopy(layer), bits=bits, per_channel=True).to(device)
            if dtype == torch.float16:
                q = q.half()  # its float buffers (scales, bias) as the input's; integers stay integers
            with torch.no_grad():
                y = q(x)
            if not isinstance(y, torch.Tensor) or tuple(y.shape) != (plan["tokens"], shape["out"]):
                raise TypeError(f"QuantLinear's forward returned {type(y).__name__} "
                                f"{tuple(getattr(y, 'shape', ()))}, expected shape {(plan['tokens'], shape['out'])}")
            t = timing.compare(timed(q), timed(float_layer), device=device, repeats=plan["repeats"], warmup=1)
            return {"float": t["reference"], "student": t["candidate"], "warmup": t["warmup"]}

        out[f"int{bits}"] = tried(f"timing QuantLinear(bits={bits}) against nn.Linear", run)
    return out
