"""The shipped sample submissions of the midterm (built by `python -m autograder release`).

The "blank" of a debugging exam is the release itself: every exercise as handed out, with its
bug, and no concept answered; it must score zero. The hidden tests judge a fix by what the
program does, so for every exercise:
- two more correct fixes, different from the reference's, lose nothing (`fixes_a`, `fixes_b`
  each carry one alternative fix per exercise);
- a plausible wrong fix, which makes the exercise's visible check pass but leaves the bug,
  loses exactly that exercise (`wrong_ex<N>`).
tests/test_midterm.py holds each sample to its `loses`.
"""
from autograder.samples import ALL, Sample

# ---------------------------------------------------------------------------------------
# Alternative correct fixes (each edit turns the reference's fix into another correct one).
# ---------------------------------------------------------------------------------------
FIXES_A = (
    # ex1: clear the gradients at the start of each group of micro-batches instead of after the step
    ("            loss = loss_fn(model(xb), yb) / accum_steps\n            loss.backward()\n"
     "            if (i + 1) % accum_steps == 0:\n                optimizer.step()\n                optimizer.zero_grad()\n",
     "            if i % accum_steps == 0:\n                optimizer.zero_grad()\n"
     "            loss = loss_fn(model(xb), yb) / accum_steps\n            loss.backward()\n"
     "            if (i + 1) % accum_steps == 0:\n                optimizer.step()\n"),
    # ex2: keep stepping the scheduler per batch, but count its period in batches
    ("StepLR(optimizer, step_size=step_size, gamma=gamma)",
     "StepLR(optimizer, step_size=step_size * len(loader), gamma=gamma)"),
    ("            optimizer.step()\n            total += loss.item() * len(xb)\n        scheduler.step()\n",
     "            optimizer.step()\n            scheduler.step()\n            total += loss.item() * len(xb)\n"),
    # ex3: log-softmax and the negative log-likelihood
    ("            loss = loss_fn(logits, yb)\n", "            loss = F.nll_loss(F.log_softmax(logits, dim=1), yb)\n"),
    # ex4: the last dimension is the class dimension too
    ("    probs = F.softmax(logits, dim=1)\n", "    probs = F.softmax(logits, dim=-1)\n"),
    # ex5: train(False) is eval()
    ("def evaluate(model, loader):\n    model.eval()\n", "def evaluate(model, loader):\n    model.train(False)\n"),
    # ex6: an explicit sequential sampler
    ("    loader = DataLoader(dataset, batch_size=batch_size)\n",
     "    loader = DataLoader(dataset, batch_size=batch_size,\n"
     "                        sampler=torch.utils.data.SequentialSampler(dataset))\n"),
    # ex7: a dropout module, which follows model.train() / model.eval() by itself
    ("        self.p = p\n", "        self.dropout = nn.Dropout(p)\n"),
    ("        x = F.dropout(x, p=self.p, training=self.training)\n", "        x = self.dropout(x)\n"),
    # ex8: copy every tensor of the state dict
    ("val_loss, copy.deepcopy(model.state_dict()), 0",
     "val_loss, {name: t.detach().clone() for name, t in model.state_dict().items()}, 0"),
    # ex9: keep the time-first GRU and transpose the input and the output
    ("        self.gru = nn.GRU(embed_dim, hidden, batch_first=True)\n", "        self.gru = nn.GRU(embed_dim, hidden)\n"),
    ("        states, _ = self.gru(self.embed(ids))\n",
     "        states, _ = self.gru(self.embed(ids).transpose(0, 1))\n        states = states.transpose(0, 1)\n"),
    # ex10: pack the padded batch; the LSTM's final hidden state is then each review's last real step
    ("        states, _ = self.lstm(self.embed(ids))\n        last = states[torch.arange(len(ids)), lengths - 1]\n",
     "        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True,\n"
     "                                                   enforce_sorted=False)\n"
     "        _, (h, _) = self.lstm(packed)\n        last = h[-1]\n"),
)

FIXES_B = (
    # ex1: sum the micro-batch gradients, divide them by accum_steps before the step
    ("            loss = loss_fn(model(xb), yb) / accum_steps\n            loss.backward()\n"
     "            if (i + 1) % accum_steps == 0:\n                optimizer.step()\n                optimizer.zero_grad()\n"
     "            losses.append(loss.item() * accum_steps)\n",
     "            loss = loss_fn(model(xb), yb)\n            loss.backward()\n"
     "            if (i + 1) % accum_steps == 0:\n                for p in model.parameters():\n"
     "                    p.grad /= accum_steps\n                optimizer.step()\n"
     "                model.zero_grad(set_to_none=True)\n            losses.append(loss.item())\n"),
    # ex2: no scheduler: set the learning rate at the start of every epoch
    ("        model.train()\n        total = 0.0\n",
     "        model.train()\n        for group in optimizer.param_groups:\n"
     "            group[\"lr\"] = lr * gamma ** (epoch // step_size)\n        total = 0.0\n"),
    ("            total += loss.item() * len(xb)\n        scheduler.step()\n",
     "            total += loss.item() * len(xb)\n"),
    # ex3: the log of the probabilities the loop computes anyway
    ("            loss = loss_fn(logits, yb)\n", "            loss = F.nll_loss(torch.log(probs), yb)\n"),
    # ex4: softmax written out
    ("    probs = F.softmax(logits, dim=1)\n",
     "    e = torch.exp(logits - logits.max(dim=1, keepdim=True).values)\n    probs = e / e.sum(dim=1, keepdim=True)\n"),
    # ex5: evaluation mode for the loop, then the mode the model came in with
    ("def evaluate(model, loader):\n    model.eval()\n",
     "def evaluate(model, loader):\n    was_training = model.training\n    model.eval()\n"),
    ("        count += len(yb)\n    return total_loss / count, correct / count",
     "        count += len(yb)\n    model.train(was_training)\n    return total_loss / count, correct / count"),
    # ex6: no loader at all: slices of the tensors, in order
    ("    loader = DataLoader(dataset, batch_size=batch_size)\n"
     "    predictions = torch.cat([model(xb).argmax(dim=1) for xb, _ in loader])\n",
     "    inputs = dataset.tensors[0]\n"
     "    predictions = torch.cat([model(inputs[i:i + batch_size]).argmax(dim=1)\n"
     "                             for i in range(0, len(inputs), batch_size)])\n"),
    # ex7: dropout only when training
    ("        x = F.dropout(x, p=self.p, training=self.training)\n",
     "        if self.training:\n            x = F.dropout(x, p=self.p)\n"),
    # ex8: keep a copy of the whole model
    ("val_loss, copy.deepcopy(model.state_dict()), 0", "val_loss, copy.deepcopy(model), 0"),
    ("    model.load_state_dict(best_state)\n", "    model.load_state_dict(best_state.state_dict())\n"),
    # ex9: a packed sequence (the GRU's batch_first does not matter for one)
    ("        self.gru = nn.GRU(embed_dim, hidden, batch_first=True)\n", "        self.gru = nn.GRU(embed_dim, hidden)\n"),
    ("        states, _ = self.gru(self.embed(ids))\n",
     "        lengths = (ids != PAD).sum(dim=1)\n"
     "        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True,\n"
     "                                                   enforce_sorted=False)\n"
     "        states, _ = self.gru(packed)\n"
     "        states, _ = nn.utils.rnn.pad_packed_sequence(states, batch_first=True, total_length=ids.shape[1])\n"),
    # ex10: gather the step of each review's last token
    ("        last = states[torch.arange(len(ids)), lengths - 1]\n",
     "        index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, states.shape[2])\n"
     "        last = states.gather(1, index).squeeze(1)\n"),
)

FIXES_C = (
    # ex1: clear the gradients by dropping them (set to None) right after each step
    ("                optimizer.step()\n                optimizer.zero_grad()\n",
     "                optimizer.step()\n                for p in model.parameters():\n                    p.grad = None\n"),
    # ex2: the same decay as milestones
    ("StepLR(optimizer, step_size=step_size, gamma=gamma)",
     "MultiStepLR(optimizer, milestones=list(range(step_size, epochs, step_size)), gamma=gamma)"),
    # ex3: the functional cross-entropy on the logits
    ("            loss = loss_fn(logits, yb)\n", "            loss = F.cross_entropy(logits, yb)\n"),
    # ex4: probabilities as the exponential of the log-softmax
    ("    probs = F.softmax(logits, dim=1)\n", "    probs = F.log_softmax(logits, dim=1).exp()\n"),
    # ex5: every module out of training mode, one by one
    ("def evaluate(model, loader):\n    model.eval()\n",
     "def evaluate(model, loader):\n    for module in model.modules():\n        module.train(False)\n"),
    # ex6: a loader that says it does not shuffle
    ("    loader = DataLoader(dataset, batch_size=batch_size)\n",
     "    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)\n"),
    # ex7: dropout's training flag passed by position
    ("        x = F.dropout(x, p=self.p, training=self.training)\n",
     "        x = nn.functional.dropout(x, self.p, self.training)\n"),
    # ex8: the state dict of a deep copy of the model
    ("val_loss, copy.deepcopy(model.state_dict()), 0", "val_loss, copy.deepcopy(model).state_dict(), 0"),
    # ex9: keyword arguments, batch first
    ("        self.gru = nn.GRU(embed_dim, hidden, batch_first=True)\n",
     "        self.gru = nn.GRU(input_size=embed_dim, hidden_size=hidden, num_layers=1, batch_first=True)\n"),
    # ex10: each review's last real step, one review at a time
    ("        last = states[torch.arange(len(ids)), lengths - 1]\n",
     "        last = torch.stack([states[i, int(lengths[i]) - 1] for i in range(len(ids))])\n"),
)

# Numeric concept answers written as whatever the visible check accepts as a number: a tensor
# (F.cross_entropy itself for c3), a NumPy scalar, an int tensor. Judged by value.
CONCEPTS_AS_VALUES = (
    ('"c1": 0.561,', '"c1": np.float64(0.9 ** 0 * 0.1 + (0.9 + 1) * 0.1 + (0.81 + 0.9 + 1) * 0.1),'),
    ('"c3": 0.2395,', '"c3": F.cross_entropy(torch.tensor([[2.0, 0.0, 0.0]]), torch.tensor([0])),'),
    ('"c6": 896,', '"c6": sum(p.numel() for p in nn.Conv2d(3, 32, kernel_size=3).parameters()),'),
    ('"c10": 640,', '"c10": torch.tensor(640),'),
)

# ---------------------------------------------------------------------------------------
# Plausible wrong fixes: each makes its exercise's visible check pass and leaves the bug.
# ---------------------------------------------------------------------------------------
WRONG = [
    Sample("wrong_ex1", "zero_grad only once, before the loop: the first step is right, later steps add stale gradients",
           edits=(("                optimizer.step()\n                optimizer.zero_grad()\n",
                   "                optimizer.step()\n"),), loses=("ex1",)),
    Sample("wrong_ex2", "scheduler.step() at the start of each epoch: the decay comes one epoch early",
           edits=(("        model.train()\n        total = 0.0\n", "        model.train()\n        scheduler.step()\n        total = 0.0\n"),
                  ("            total += loss.item() * len(xb)\n        scheduler.step()\n",
                   "            total += loss.item() * len(xb)\n")), loses=("ex2",)),
    Sample("wrong_ex3", "nll_loss on probabilities (not log-probabilities): the loss goes down, but it is not cross-entropy",
           edits=(("            loss = loss_fn(logits, yb)\n", "            loss = F.nll_loss(probs, yb)\n"),), loses=("ex3",)),
    Sample("wrong_ex4", "softmax over the batch, then each row rescaled to sum to 1: still depends on the other images",
           edits=(("    probs = F.softmax(logits, dim=1)\n",
                   "    probs = F.softmax(logits, dim=0)\n    probs = probs / probs.sum(dim=1, keepdim=True)\n"),),
           loses=("ex4",)),
    Sample("wrong_ex5", "restores the state_dict after evaluating in training mode: batch statistics still decide",
           edits=(("def evaluate(model, loader):\n    model.eval()\n",
                   "def evaluate(model, loader):\n    saved = copy.deepcopy(model.state_dict())\n"),
                  ("        count += len(yb)\n    return total_loss / count, correct / count",
                   "        count += len(yb)\n    model.load_state_dict(saved)\n    return total_loss / count, correct / count")),
           loses=("ex5",)),
    Sample("wrong_ex6", "keeps the shuffled loader and scores against the loader's labels: the predictions stay shuffled",
           edits=(("    loader = DataLoader(dataset, batch_size=batch_size)\n"
                   "    predictions = torch.cat([model(xb).argmax(dim=1) for xb, _ in loader])\n"
                   "    accuracy = (predictions == dataset.tensors[1]).float().mean().item()\n",
                   "    loader = make_loader(dataset, batch_size=batch_size)\n    predictions, seen = [], []\n"
                   "    for xb, yb in loader:\n        predictions.append(model(xb).argmax(dim=1))\n"
                   "        seen.append(yb)\n    predictions = torch.cat(predictions)\n"
                   "    accuracy = (predictions == torch.cat(seen)).float().mean().item()\n"),), loses=("ex6",)),
    Sample("wrong_ex7", "training=False: no dropout at evaluation, but none while training either",
           edits=(("        x = F.dropout(x, p=self.p, training=self.training)\n",
                   "        x = F.dropout(x, p=self.p, training=False)\n"),), loses=("ex7",)),
    Sample("wrong_ex8", "copies the parameters only: a model with buffers (batch norm) is not restored",
           edits=(("val_loss, copy.deepcopy(model.state_dict()), 0",
                   "val_loss, {name: p.detach().clone() for name, p in model.named_parameters()}, 0"),),
           loses=("ex8",)),
    Sample("wrong_ex9", "runs the time-first GRU on one review at a time: each token becomes a sequence of its own",
           edits=(("        self.gru = nn.GRU(embed_dim, hidden, batch_first=True)\n", "        self.gru = nn.GRU(embed_dim, hidden)\n"),
                  ("        states, _ = self.gru(self.embed(ids))\n",
                   "        states = torch.cat([self.gru(self.embed(ids[i:i + 1]))[0] for i in range(len(ids))])\n")),
           loses=("ex9",)),
    Sample("wrong_ex10", "trims the batch to its longest review: the shorter reviews still end on padding",
           edits=(("        states, _ = self.lstm(self.embed(ids))\n        last = states[torch.arange(len(ids)), lengths - 1]\n",
                   "        states, _ = self.lstm(self.embed(ids[:, :int(lengths.max())]))\n        last = states[:, -1]\n"),),
           loses=("ex10",)),
]

# ---------------------------------------------------------------------------------------
# The two ends, the alternative fixes, and the concept answers.
# ---------------------------------------------------------------------------------------
SAMPLES = [
    Sample("ref_reference", "the reference: every bug fixed, every concept question right", loses=()),
    Sample("blank_release", "the release exactly as handed out: every bug in place, no answers", base="blank", loses=ALL),
    Sample("fixes_a", "a different correct fix for every exercise (set A)", edits=FIXES_A, loses=()),
    Sample("fixes_b", "a third correct fix for every exercise (set B)", edits=FIXES_B, loses=()),
    Sample("fixes_c", "a fourth correct fix for every exercise (set C)", edits=FIXES_C, loses=()),
    Sample("concepts_as_values", "right numeric answers given as a tensor (F.cross_entropy for c3), a NumPy scalar, a computed count",
           edits=CONCEPTS_AS_VALUES, loses=()),
    *WRONG,
    Sample("concepts_lenient", "right answers written loosely: lower-case letters, numbers as text, rounded",
           edits=(('"c1": 0.561,', '"c1": "0.56",'), ('"c2": "C",', '"c2": " c",'), ('"c3": 0.2395,', '"c3": 0.24,'),
                  ('"c5": 15,', '"c5": 15.0,'), ('"c11": "B",', '"c11": "b",')), loses=()),
    Sample("concepts_wrong_vision", "every answer of c5-c9 wrong (the others right)",
           edits=(('"c5": 15,', '"c5": 16,'), ('"c6": 896,', '"c6": 864,'), ('"c7": "D",', '"c7": "A",'),
                  ('"c8": "A",', '"c8": "B",'), ('"c9": "C",', '"c9": "A",')), loses=("concepts_vision",)),
]
