"""The shipped sample submissions of HW3 (built by `python -m autograder release`).

Every sample says which questions it must lose (`loses`); all its other questions must score
full marks. tests/test_hw3.py holds each one to that. `other_*` samples answer a blank in
another correct style and must keep full marks.
"""
from autograder.samples import ALL, Sample

ENDS = [
    Sample("ref_reference", "the reference solution, every blank filled in", loses=()),
    Sample("blank_release", "the release exactly as handed out", base="blank", loses=ALL),
]

MASK_LINE = '        scores = scores.masked_fill(~mask, float("-inf"))\n'

# ---------------------------------------------------------------------------------------
# Planted plausible mistakes: each loses exactly its question.
# ---------------------------------------------------------------------------------------
MISTAKES = [
    Sample("mistake_softmax_over_queries", "softmax over the query dimension (dim=-2) instead of the keys",
           edits=(("weights = torch.softmax(scores, dim=-1)\n    return weights @ v, weights",
                   "weights = torch.softmax(scores, dim=-2)\n    return weights @ v, weights"),),
           loses=("attention",)),
    Sample("mistake_scale_by_dk", "divides the scores by d_k instead of its square root",
           edits=(("scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)", "scores = q @ k.transpose(-2, -1) / d_k"),),
           loses=("attention",)),
    Sample("mistake_mask_after_softmax", "zeroes the masked weights after the softmax (they no longer sum to 1)",
           edits=(("    if mask is not None:\n" + MASK_LINE + "    weights = torch.softmax(scores, dim=-1)\n",
                   "    weights = torch.softmax(scores, dim=-1)\n    if mask is not None:\n"
                   "        weights = weights.masked_fill(~mask, 0.0)\n"),),
           loses=("attention",)),
    Sample("mistake_mask_convention", "masks where the mask is True (the opposite of PyTorch's convention)",
           edits=((MASK_LINE, '        scores = scores.masked_fill(mask, float("-inf"))\n'),),
           loses=("attention",)),
    Sample("mistake_heads_merged", "merges the heads with a reshape, without transposing back first",
           edits=(("out = out.transpose(1, 2).reshape(B, L_q, self.d_model)", "out = out.reshape(B, L_q, self.d_model)"),),
           loses=("multihead",)),
    Sample("mistake_pe_by_batch", "indexes the positional table by the batch (the lecture's sequence-first code)",
           edits=(("return self.dropout(x + self.pe[: x.size(1)].to(x.dtype))",
                   "return self.dropout(x + self.pe[: x.size(0)].unsqueeze(1).to(x.dtype))"),),
           loses=("positional",)),
    Sample("mistake_pre_norm", "a pre-norm block where the homework asks for post-norm",
           edits=(("        x = self.norm1(x + self.dropout(attended))\n"
                   "        x = self.norm2(x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x))))))\n",
                   "        h = self.norm1(x)\n"
                   "        attended, self.last_weights = self.attn(h, h, h, key_padding_mask=key_padding_mask)\n"
                   "        x = x + self.dropout(attended)\n"
                   "        x = x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(self.norm2(x))))))\n"),),
           loses=("encoder",)),
    Sample("mistake_pool_padding", "mean-pools over every position, padding included",
           edits=(("    m = mask.unsqueeze(-1).to(h.dtype)\n    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)",
                   "    return h.mean(dim=1)"),),
           loses=("classifier",)),
    Sample("mistake_no_truncation", "pads but forgets truncation=True (long reviews exceed max_length)",
           edits=(('return tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")',
                   'return tokenizer(list(texts), padding=True, max_length=max_length, return_tensors="pt")'),),
           loses=("tokenize",)),
    Sample("mistake_labels_not_mapped", "builds the model without id2label/label2id: its label space is LABEL_0, LABEL_1",
           edits=(("model_path, num_labels=len(LABEL_NAMES), id2label=id2label, label2id=label2id)",
                   "model_path, num_labels=len(LABEL_NAMES))"),),
           loses=("labels",)),
    Sample("mistake_metrics_on_logits", "computes the metrics on the logits' maximum instead of the predicted classes",
           edits=(("predictions = np.argmax(logits, axis=-1)", "predictions = np.max(logits, axis=-1).round().astype(int)"),),
           loses=("metrics",)),
    Sample("mistake_f1_weighted", "averages F1 weighted by class size instead of macro",
           edits=(('average="macro"', 'average="weighted"'),),
           loses=("metrics",)),
    Sample("mistake_train_no_train_mode", "never calls model.train(): after predict, dropout stays off",
           edits=(("    model.train()\n    total, count = 0.0, 0\n", "    total, count = 0.0, 0\n"),),
           loses=("train_loop",)),
    Sample("mistake_predict_no_eval", "predicts in training mode (dropout on) and with gradients",
           edits=(("    model.eval()\n    outputs = []\n    with torch.no_grad():\n        for batch in loader:\n"
                   "            inputs = {name: tensor.to(device) for name, tensor in batch.items() if name != \"labels\"}\n"
                   "            outputs.append(model(**inputs).logits.float().cpu())\n",
                   "    outputs = []\n    for batch in loader:\n"
                   "        inputs = {name: tensor.to(device) for name, tensor in batch.items() if name != \"labels\"}\n"
                   "        outputs.append(model(**inputs).logits.float().cpu().detach())\n"),),
           loses=("predict",)),
]

# ---------------------------------------------------------------------------------------
# Correct answers in another style: each must keep full marks.
# ---------------------------------------------------------------------------------------
OTHER_STYLES = [
    Sample("other_attention_einsum", "attention with einsum, torch.where and -1e9 instead of -inf",
           edits=(("    d_k = q.size(-1)\n    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)\n    if mask is not None:\n"
                   + MASK_LINE + "    weights = torch.softmax(scores, dim=-1)\n    return weights @ v, weights",
                   "    scores = torch.einsum(\"...qd,...kd->...qk\", q, k) * q.shape[-1] ** -0.5\n"
                   "    if mask is not None:\n"
                   "        scores = torch.where(mask, scores, torch.tensor(-1e9, dtype=scores.dtype))\n"
                   "    weights = F.softmax(scores, dim=-1)\n"
                   "    return torch.einsum(\"...qk,...kd->...qd\", weights, v), weights"),),
           loses=()),
    Sample("other_mha_einops_style", "multi-head attention with unflatten/permute and one helper per step",
           edits=(("        def split(x, length):  # (B, L, d_model) -> (B, heads, L, d_head)\n"
                   "            return x.view(B, length, self.num_heads, self.d_head).transpose(1, 2)\n",
                   "        def split(x, length):\n"
                   "            return x.unflatten(-1, (self.num_heads, self.d_head)).permute(0, 2, 1, 3)\n"),
                  ("        out = out.transpose(1, 2).reshape(B, L_q, self.d_model)\n",
                   "        out = out.permute(0, 2, 1, 3).flatten(2)\n")),
           loses=()),
    Sample("other_pe_exp_log", "positional table with exp(-log(10000) 2i/d) in float32 and interleaving by stack",
           edits=(("    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)  # (max_len, 1)\n"
                   "    div = torch.pow(10000.0, torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)  # 10000^(2i/d)\n"
                   "    pe = torch.zeros(max_len, d_model, dtype=torch.float64)\n"
                   "    pe[:, 0::2] = torch.sin(position / div)\n"
                   "    pe[:, 1::2] = torch.cos(position / div)\n"
                   "    return pe.float()\n",
                   "    position = torch.arange(max_len).float()[:, None]\n"
                   "    freq = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))\n"
                   "    angle = position * freq\n"
                   "    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)\n"),
                  ("return self.dropout(x + self.pe[: x.size(1)].to(x.dtype))",
                   "return self.dropout(x + self.pe[None, : x.shape[1], :])")),
           loses=()),
    Sample("other_encoder_sequential", "the feed-forward as one nn.Sequential-free chain with separate dropouts",
           edits=(("        self.dropout = nn.Dropout(dropout)\n        self.last_weights = None",
                   "        self.dropout = nn.Dropout(dropout)\n        self.drop_ff = nn.Dropout(dropout)\n"
                   "        self.drop_attn = nn.Dropout(dropout)\n        self.last_weights = None"),
                  ("        x = self.norm1(x + self.dropout(attended))\n"
                   "        x = self.norm2(x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x))))))\n",
                   "        x = x + self.drop_attn(attended)\n        x = self.norm1(x)\n"
                   "        hidden = self.drop_ff(torch.relu(self.linear1(x)))\n"
                   "        x = self.norm2(x + self.dropout(self.linear2(hidden)))\n")),
           loses=()),
    Sample("other_pool_and_forward", "pooling with a float mask and a division by lengths; forward in one expression",
           edits=(("    m = mask.unsqueeze(-1).to(h.dtype)\n    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)",
                   "    weights = mask.to(h.dtype)\n"
                   "    lengths = weights.sum(dim=1, keepdim=True)\n"
                   "    return torch.bmm(weights.unsqueeze(1), h).squeeze(1) / lengths"),
                  ("        real = input_ids != self.pad_id\n", "        padding = input_ids.eq(self.pad_id)\n        real = ~padding\n"),
                  ("            x = block(x, key_padding_mask=~real)\n", "            x = block(x, padding)\n")),
           loses=()),
    Sample("other_tokenize_max_length_padding", "pads every batch to max_length (padding='max_length')",
           edits=(('return tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")',
                   'batch = tokenizer(texts, padding="max_length", truncation=True, max_length=max_length, return_tensors="pt")\n'
                   '    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}'),),
           loses=()),
    Sample("other_labels_from_enumerate", "label ids from LABEL_NAMES.index, the config built with AutoConfig",
           edits=(("    return torch.tensor([label2id[name] for name in names], dtype=torch.long)",
                   "    return torch.as_tensor([LABEL_NAMES.index(n) for n in names]).long()"),
                  ("    return AutoModelForSequenceClassification.from_pretrained(\n"
                   "        model_path, num_labels=len(LABEL_NAMES), id2label=id2label, label2id=label2id)",
                   "    from transformers import AutoConfig\n"
                   "    config = AutoConfig.from_pretrained(model_path, num_labels=2, id2label=dict(enumerate(LABEL_NAMES)),\n"
                   "                                        label2id={n: i for i, n in enumerate(LABEL_NAMES)})\n"
                   "    return AutoModelForSequenceClassification.from_pretrained(model_path, config=config)")),
           loses=()),
    Sample("other_metrics_by_hand", "accuracy and macro F1 computed by hand with NumPy",
           edits=(("    from sklearn.metrics import accuracy_score, f1_score\n\n    logits, labels = eval_pred\n"
                   "    predictions = np.argmax(logits, axis=-1)\n"
                   "    return {\"accuracy\": float(accuracy_score(labels, predictions)),\n"
                   "            \"f1\": float(f1_score(labels, predictions, average=\"macro\", zero_division=0))}",
                   "    logits, labels = eval_pred.predictions, eval_pred.label_ids\n"
                   "    predictions = logits.argmax(-1)\n"
                   "    f1s = []\n"
                   "    for c in np.union1d(labels, predictions):\n"
                   "        tp = np.sum((predictions == c) & (labels == c))\n"
                   "        precision = tp / max(np.sum(predictions == c), 1)\n"
                   "        recall = tp / max(np.sum(labels == c), 1)\n"
                   "        f1s.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))\n"
                   "    return {\"accuracy\": (predictions == labels).mean(), \"f1\": float(np.mean(f1s))}"),),
           loses=()),
    Sample("other_loop_and_predict", "a loop over batch.pop('labels') with F.cross_entropy; predict by softmax-free stacking",
           edits=(("        optimizer.zero_grad()\n        loss = model(**batch).loss\n",
                   "        targets = batch.pop(\"labels\")\n        logits = model(**batch).logits\n"
                   "        loss = F.cross_entropy(logits, targets)\n        batch[\"labels\"] = targets\n"
                   "        optimizer.zero_grad(set_to_none=True)\n"),
                  ("            outputs.append(model(**inputs).logits.float().cpu())\n    return torch.cat(outputs)",
                   "            outputs += list(model(input_ids=inputs[\"input_ids\"], attention_mask=inputs[\"attention_mask\"]).logits.cpu())\n"
                   "    return torch.stack(outputs)")),
           loses=()),
]

# ---------------------------------------------------------------------------------------
# Slow multi-head attention: correct, but a Python loop; each must fail the speed ratio.
# ---------------------------------------------------------------------------------------
ATTEND = ("        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]\n"
          "        out, weights = scaled_dot_product_attention(q, k, v, mask)\n")
SLOW = [
    Sample("slow_loop_over_heads", "attends one head at a time in a Python loop",
           edits=((ATTEND,
                   "        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, :]\n"
                   "        outs, maps = [], []\n"
                   "        for head in range(self.num_heads):\n"
                   "            o, w = scaled_dot_product_attention(q[:, head], k[:, head], v[:, head], mask)\n"
                   "            outs.append(o)\n"
                   "            maps.append(w)\n"
                   "        out, weights = torch.stack(outs, dim=1), torch.stack(maps, dim=1)\n"),),
           loses=("speed",)),
    Sample("slow_loop_over_positions", "attends one query position at a time in a Python loop",
           edits=((ATTEND,
                   "        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]\n"
                   "        outs, maps = [], []\n"
                   "        for i in range(L_q):\n"
                   "            o, w = scaled_dot_product_attention(q[:, :, i:i + 1], k, v, mask)\n"
                   "            outs.append(o)\n"
                   "            maps.append(w)\n"
                   "        out, weights = torch.cat(outs, dim=2), torch.cat(maps, dim=2)\n"),),
           loses=("speed",)),
]

SAMPLES = ENDS + MISTAKES + OTHER_STYLES + SLOW
