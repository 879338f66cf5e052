"""TODO1: reading CIFAR-10's python batches. The expected arrays come from the PNG files the
archive was written from, never from the student's reader."""
from __future__ import annotations

import numpy as np

from assignments.data import CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES
from autograder.tests.hw2_cnn import cases

CHANNEL_HINT = ("each row of 3072 bytes holds the 1024 red values (row by row), then the 1024 green, "
                "then the 1024 blue: reshape(-1, 3, 32, 32) gives (N, channels, height, width) directly")


def check_images(got, expected: np.ndarray, what: str) -> None:
    shape = tuple(got["shape"])
    assert shape == expected.shape, (
        f"{what}: images have shape {shape}, expected (number of images, 3, 32, 32). "
        + (f"(N, 32, 32, 3) is channels-last: {CHANNEL_HINT}" if shape[1:] == (32, 32, 3) else CHANNEL_HINT))
    values = np.asarray(got["value"])
    if not np.array_equal(values.astype(np.float64), expected.astype(np.float64)):
        hwc = expected.reshape(len(expected), 3072).reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2)
        if np.array_equal(values.astype(np.float64), hwc.astype(np.float64)):
            raise AssertionError(f"{what}: the pixels are scrambled: your reshape reads each row as "
                                 f"32x32x3 (colour last) and then moves the colour axis; {CHANNEL_HINT}")
        if np.allclose(values.astype(np.float64) * 255, expected, atol=0.5):
            raise AssertionError(f"{what}: the images are scaled to [0, 1]; keep the raw bytes (uint8 0-255) "
                                 "here: the Dataset scales them")
        raise AssertionError(f"{what}: the pixel values differ from the file's; {CHANNEL_HINT}")


def test_batch_shapes_and_dtypes(student):
    files = student("load_batch")["files"]
    for name, (images, labels) in cases.archive_batches().items():
        got = files[name]
        shape = tuple(got["images"]["shape"])
        assert shape == images.shape, (
            f"load_cifar_batch('{name}') returned images of shape {shape}; expected (number of images in the "
            "file, 3, 32, 32), one image per row of batch[b'data']. " + CHANNEL_HINT)
        assert got["images"]["dtype"] == "uint8", (
            f"load_cifar_batch('{name}') returned images of dtype {got['images']['dtype']}; keep the file's "
            "bytes as uint8 (np.uint8): the Dataset converts to float and scales")
        assert tuple(got["labels"]["shape"]) == labels.shape, (
            f"load_cifar_batch('{name}') returned labels of shape {tuple(got['labels']['shape'])}: expected one "
            "integer per image (batch[b'labels']), shape (number of images,)")
        assert np.dtype(got["labels"]["dtype"]).kind in "iu", (
            f"load_cifar_batch('{name}') returned labels of dtype {got['labels']['dtype']}: make them "
            "integers (np.int64), as CrossEntropyLoss needs")


def test_channel_order(student):
    files = student("load_batch")["files"]
    for name, (images, labels) in cases.archive_batches().items():
        got = files[name]
        check_images(got["images"], images, f"load_cifar_batch('{name}')")
        assert np.array_equal(np.asarray(got["labels"]["value"]), labels), (
            f"load_cifar_batch('{name}'): the labels differ from the file's batch[b'labels']")


def test_whole_archive(student):
    parts = student("load_batch")["whole"]
    tr_x, tr_y, te_x, te_y = cases.archive_split()
    names = ("train_images", "train_labels", "test_images", "test_labels")
    for part, expected, name in zip(parts[::2], (tr_x, te_x), names[::2]):
        assert tuple(part["shape"]) == expected.shape, (
            f"load_cifar10: {name} has shape {tuple(part['shape'])}, not that of the training "
            f"images of all five files {', '.join(CIFAR10_TRAIN_FILES)} in that order, then {CIFAR10_TEST_FILE} "
            "for the test images")
        check_images(part, expected, f"load_cifar10's {name}")
    for part, expected, name in zip(parts[1::2], (tr_y, te_y), names[1::2]):
        assert np.array_equal(np.asarray(part["value"]).reshape(-1), expected), (
            f"load_cifar10: {name} are not the labels of data_batch_1..5 in order (test: test_batch); "
            "concatenate them in the same order as the images")
