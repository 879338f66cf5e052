"""TODO2: the Dataset. Expected items computed here from the images given to it."""
from __future__ import annotations

import numpy as np

from autograder.tests.hw2_cnn import cases


def expected_items(transform: bool):
    images, labels = cases.foolbox_cifar()
    chosen_images, chosen_labels = images[cases.DATASET_IMAGES], labels[cases.DATASET_IMAGES]
    out = []
    for i in cases.DATASET_ITEMS:
        x = chosen_images[i].astype(np.float32) / 255.0
        if transform:
            mean = np.array(cases.TRANSFORM_MEAN, dtype=np.float32).reshape(3, 1, 1)
            std = np.array(cases.TRANSFORM_STD, dtype=np.float32).reshape(3, 1, 1)
            x = (x - mean) / std
        out.append((x, int(chosen_labels[i])))
    return out


def check_items(got, transform: bool, what: str):
    n = len(cases.DATASET_IMAGES)
    assert got["len"] == n, f"{what}: len(dataset) is not the number of images the Dataset was given"
    for i, item, (x, label) in zip(cases.DATASET_ITEMS, got["items"], expected_items(transform)):
        image = item["image"]
        assert image["type"] == "Tensor", (
            f"{what}: an item has its image as a {image['type']}; return a torch tensor "
            "(torch.from_numpy(...)) so that DataLoader can batch it")
        assert tuple(image["shape"]) == (3, 32, 32), (
            f"{what}: an item's image has shape {tuple(image['shape'])}, expected (3, 32, 32): channels first")
        assert image["dtype"] == "float32", (
            f"{what}: an item's image has dtype {image['dtype']}; convert to float32 (.float()): "
            "conv layers need floats")
        value = np.asarray(image["value"], dtype=np.float64)
        if not np.allclose(value, x, atol=1e-5):
            raw = x * 255.0 if not transform else None
            if raw is not None and np.allclose(value, raw, atol=1e-3):
                raise AssertionError(f"{what}: an item's pixels are 0-255; scale them to [0, 1] "
                                     "(divide by 255) before the transform")
            if transform and np.allclose(value, expected_items(False)[cases.DATASET_ITEMS.index(i)][0], atol=1e-5):
                raise AssertionError(f"{what}: an item is the image without the transform: apply "
                                     "self.transform to it in __getitem__ when one is given")
            raise AssertionError(
                f"{what}: an item's image differs from its uint8 image converted to float and divided by 255"
                + (", then passed through the transform" if transform else "")
                + f" (largest difference {np.max(np.abs(value - x)):.3g})")
        assert item["label"] == label, f"{what}: an item's label is not the label given for its image"


def test_dataset_length_and_items(student):
    check_items(student("dataset")["plain"], False, "CIFARDataset(images, labels)")


def test_dataset_applies_transform(student):
    got = student("dataset")["transformed"]
    assert got["calls_at_init"] == 0, (
        "the transform was called when the Dataset was created: apply it "
        "in __getitem__, to one image at a time (random augmentations must differ at every epoch)")
    check_items(got, True, "CIFARDataset(..., transform=...)")
    assert got["calls"] == len(cases.DATASET_ITEMS), (
        "the transform did not run exactly once for every item read: call it once per __getitem__")
