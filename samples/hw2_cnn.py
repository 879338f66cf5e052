"""The shipped sample submissions of HW2 (built by `python -m autograder release`).

Every sample says which questions it must lose (`loses`); all its other questions must score
full marks. tests/test_hw2.py holds each one to that. GPU_SLOW lists loops that are slow only
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

SAMPLES = ENDS + MISTAKES + SLOW + BAD
