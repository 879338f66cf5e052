"""TODO3: the seeded 80/20 split and the DataLoaders. Checked through the labels of index
datasets (item i has label i): what went where, in which order."""
from __future__ import annotations

import math

from autograder.tests.hw2_cnn import cases


def check_split(run, n, fraction, what):
    train, val = run["train"], run["val"]
    assert len(train) + len(val) == n, (
        f"{what}: the parts have {len(train)} + {len(val)} items, but the dataset has {n}")
    assert abs(len(val) - fraction * n) < 1, (
        f"{what}: the validation part has {len(val)} items and the training part {len(train)}; with "
        f"val_fraction={fraction} the validation part should have about {fraction * n:g} "
        f"(int(len(dataset) * val_fraction)): are the two sizes swapped, or the parts returned in the "
        "wrong order (train first)?")
    assert not set(train) & set(val), (
        f"{what}: {len(set(train) & set(val))} items are in both parts: the split must not overlap")
    assert sorted(train + val) == list(range(n)), f"{what}: some items are missing or repeated"


def test_split_sizes_and_disjoint(student):
    got = student("split")["cases"]
    for k, (n, fraction, seed) in enumerate(cases.SPLIT_CASES):
        check_split(got[str(k)]["first"], n, fraction, f"split_train_val(a dataset of {n}, val_fraction={fraction})")


def test_split_is_seeded(student):
    got = student("split")["cases"]
    for k, (n, fraction, seed) in enumerate(cases.SPLIT_CASES):
        runs = got[str(k)]
        what = f"split_train_val(a dataset of {n}, val_fraction={fraction}, seed={seed})"
        for key in ("first", "again", "other_seed"):
            check_split(runs[key], n, fraction, what)
        assert runs["first"] == runs["again"], (
            f"{what} gave a different split when called again with the same seed: pass "
            "generator=torch.Generator().manual_seed(seed) to random_split")
        assert runs["first"]["val"] != runs["other_seed"]["val"], (
            f"{what} gave the same split for seed={seed + 1}: use the `seed` argument, not a fixed number")
        assert runs["first"]["train"] != sorted(runs["first"]["train"]), (
            f"{what}: the training part is the first items in order: the split must be random")


def test_loaders_shuffle_only_training(student):
    passes = student("loaders")["passes"]
    sizes, batch = cases.LOADER_SIZES, cases.LOADER_BATCH
    for name, offset in (("val", 1000), ("test", 2000)):
        expected = list(range(offset, offset + sizes[name]))
        for k, batches in enumerate(passes[name]):
            flat = [v for b in batches for v in b]
            assert sorted(flat) == expected, (
                f"the {name} loader does not yield every item once ({len(flat)} items for {sizes[name]})")
            assert flat == expected, (
                f"the {name} loader shuffles: it must give the items in the dataset's order (shuffle=False), "
                "so that predictions line up with labels and results are comparable between runs")
            assert [len(b) for b in batches[:-1]] == [batch] * (len(batches) - 1), (
                f"the {name} loader's batches have sizes {[len(b) for b in batches]}: use batch_size")
    orders = []
    for batches in passes["train"]:
        flat = [v for b in batches for v in b]
        assert len(set(flat)) == len(flat) and set(flat) <= set(range(sizes["train"])), (
            "the training loader repeats or invents items")
        assert len(flat) >= sizes["train"] - (batch - 1), (
            f"the training loader gives {len(flat)} of {sizes['train']} items per epoch")
        assert all(len(b) <= batch for b in batches) and len(batches) >= math.floor(sizes["train"] / batch), (
            f"the training loader's batches have sizes {[len(b) for b in batches]}: use batch_size={batch}")
        orders.append(flat)
    assert orders[0] != sorted(orders[0]) and orders[0] != orders[1], (
        "the training loader gives the items in the same order every epoch: shuffle it (shuffle=True)")
