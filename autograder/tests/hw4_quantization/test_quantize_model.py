"""TODO6: quantize_model (with a correct QuantLinear in place) on a small model with nn.Linear at
several depths (Sequential, ModuleList, ModuleDict, a Linear without bias)."""
from __future__ import annotations

import numpy as np
import torch

from autograder.tests.hw4_quantization import cases, reference
from autograder.tests.hw4_quantization.common import value


def expected_modules():
    return {name for name in cases.linear_layer_names(cases.nested_model())}


def test_quantize_model_replaces_every_linear(student):
    got = student("quantize_model")["configs"]
    linear = expected_modules()
    for k, (bits, per_channel) in enumerate(cases.NESTED_CONFIGS):
        record = got[str(k)]
        left = record["linear_left"]
        assert not left, (
            f"quantize_model(model, bits={bits}, per_channel={per_channel}) left {len(left)} of {len(linear)} nn.Linear "
            f"layers float, e.g. `{left[0]}`: recurse into every child (Sequential, ModuleList, ModuleDict...)")
        modules = record["modules"]
        replaced = [n for n in linear if modules.get(n) != "QuantLinear"]
        assert not replaced, (f"the layer `{replaced[0]}` should now be a QuantLinear, found "
                              f"{modules.get(replaced[0], 'nothing')}: replace each nn.Linear in place "
                              "(setattr(parent, name, QuantLinear(child, bits, per_channel)))")
        assert record["same_object"], "quantize_model should change the model it is given, in place, and return it"


def test_quantize_model_output(student):
    got = student("quantize_model")["configs"]
    for k, (bits, per_channel) in enumerate(cases.NESTED_CONFIGS):
        model = reference.quantize_model(cases.nested_model(), bits, per_channel)
        with torch.no_grad():
            expected = model(cases.nested_input()).double().numpy()
        y = value(got[str(k)]["out"], "the quantized model", None, expected.shape).astype(np.float64)
        error = float(np.max(np.abs(y - expected)))
        assert error <= 1e-4 * (1 + float(np.max(np.abs(expected)))), (
            f"quantize_model(model, bits={bits}, per_channel={per_channel}): the model's output differs by up to "
            f"{error:.3g} from the same model with every nn.Linear quantized with these settings. Pass bits and "
            "per_channel on to every QuantLinear, and leave the other modules as they are")
