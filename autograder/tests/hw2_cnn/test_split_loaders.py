"""TODO3: the seeded 80/20 split and the DataLoaders. Checked through the labels of index
datasets (item i has label i): what went where, in which order.

The split is judged by the properties the question asks for (sizes, disjoint, covering,
reproducible for a seed, different for another seed, random rather than a block of the dataset),
never by one way of achieving them: index lists may come in any order."""
from __future__ import annotations

import math

from autograder.tests.hw2_cnn import cases

WHAT = "split_train_val"


def check_split(run, n, fraction):
    train, val = run["train"], run["val"]
    assert len(train) + len(val) == n, (
        f"{WHAT}: the two parts together do not have as many items as the dataset")
    assert abs(len(val) - fraction * n) < 1, (
        f"{WHAT}: the validation part does not have int(len(dataset) * val_fraction) items: are the two sizes "
        "swapped, or the parts returned in the wrong order (train first, then validation)?")
    assert not set(train) & set(val), f"{WHAT}: some items are in both parts: the split must not overlap"
    assert sorted(train + val) == list(range(n)), f"{WHAT}: some items are missing or repeated"


def test_split_sizes_and_disjoint(student):
    got = student("split")["cases"]
    for k, (n, fraction, seed) in enumerate(cases.SPLIT_CASES):
        check_split(got[str(k)]["first"], n, fraction)


def test_split_is_seeded(student):
    got = student("split")["cases"]
    for k, (n, fraction, seed) in enumerate(cases.SPLIT_CASES):
        runs = got[str(k)]
        for key in ("first", "again", "other_seed"):
            check_split(runs[key], n, fraction)
        first, again, other = (set(runs[key]["val"]) for key in ("first", "again", "other_seed"))
        assert first == again, (
            f"{WHAT} gave a different split when called again with the same seed: pass "
            "generator=torch.Generator().manual_seed(seed) to random_split")
        assert first != other, f"{WHAT} gave the same split for another seed: use the `seed` argument, not a fixed number"
        n_val = len(runs["first"]["val"])
        blocks = (set(range(n_val)), set(range(n - n_val, n)))
        assert first not in blocks, (
            f"{WHAT}: the validation part is a block of consecutive items at one end of the dataset: the split "
            "must be random (random_split, or a seeded permutation of the indices)")


def test_loaders_shuffle_only_training(student):
    passes = student("loaders")["passes"]
    sizes, batch = cases.LOADER_SIZES, cases.LOADER_BATCH
    for name, offset in (("val", 1000), ("test", 2000)):
        expected = list(range(offset, offset + sizes[name]))
        for k, batches in enumerate(passes[name]):
            flat = [v for b in batches for v in b]
            assert sorted(flat) == expected, f"the {name} loader does not yield every item exactly once"
            assert flat == expected, (
                f"the {name} loader shuffles: it must give the items in the dataset's order (shuffle=False), "
                "so that predictions line up with labels and results are comparable between runs")
            assert [len(b) for b in batches[:-1]] == [batch] * (len(batches) - 1), (
                f"the {name} loader's batches are not of the given batch_size (only the last may be smaller)")
    orders = []
    for batches in passes["train"]:
        flat = [v for b in batches for v in b]
        assert len(set(flat)) == len(flat) and set(flat) <= set(range(sizes["train"])), (
            "the training loader repeats or invents items")
        assert len(flat) >= sizes["train"] - (batch - 1), "the training loader leaves out items in an epoch"
        assert all(len(b) <= batch for b in batches) and len(batches) >= math.floor(sizes["train"] / batch), (
            "the training loader's batches are not of the given batch_size")
        orders.append(flat)
    assert orders[0] != sorted(orders[0]) and orders[0] != orders[1], (
        "the training loader gives the items in the same order every epoch: shuffle it (shuffle=True)")
