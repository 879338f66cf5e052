"""HW1 probes: run the student's code on the hidden inputs of `cases` and return plain data.

These run in the student's sandbox. They compare nothing and know no expected value: the tests
(test_*.py, in the judge) do that.
"""
from __future__ import annotations

import math
import re
import warnings

import numpy as np

from autograder.probe import Failed, attempt, probe
from autograder.tests.hw1_backprop import cases


def prepare():
    """Before the student's code runs: read the digits, whose public file the student's process
    cannot read (course_config.HW1.hidden_files: it holds the held-out labels)."""
    cases.digits_inputs()


def tried(label: str, fn, *args, **kwargs):
    """attempt(), with a label saying which call of the student's code failed."""
    result = attempt(fn, *args, **kwargs)
    if isinstance(result, Failed):
        message = f"{label}: {result.message}"
        if re.search(r"'(int|float)' object has no attribute '(data|grad|_children|_local_grads)'",
                     result.message):
            message += (" (a plain number reached code that expects a Value: wrap it first, "
                        "`other = other if isinstance(other, Value) else Value(other)`, as __add__ does)")
        return Failed(message)
    return result


def as_array(what: str, value) -> np.ndarray:
    if value is None:
        raise TypeError(f"{what} returned None: did you forget `return`?")
    return np.array(value, dtype=np.float64)


def as_float(what: str, value) -> float:
    if value is None:
        raise TypeError(f"{what} returned None: did you forget `return`?")
    arr = np.asarray(value, dtype=np.float64)
    if arr.size != 1:
        raise TypeError(f"{what} should be a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


class quiet:
    """Silence NumPy's overflow warnings from the student's code (the tests judge the values)."""

    def __enter__(self):
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore")
        self._err = np.seterr(all="ignore")

    def __exit__(self, *exc):
        np.seterr(**self._err)
        self._warnings.__exit__(*exc)


# ------------------------------------------------------------------ Part 1

def chain_rule(out, leaves) -> list[float]:
    """d(out)/d(leaf) for each leaf, from the graph the student's operations recorded
    (`_children`, `_local_grads`), by our own reverse accumulation: it does not use the
    student's backward(), so Part 1 is judged on its own."""
    order, seen, stack = [], set(), [(out, False)]
    while stack:  # iterative depth-first search: post-order = topological order
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        children, local = tuple(node._children), tuple(node._local_grads)
        if len(children) != len(local):
            raise ValueError(f"a Value made by {node._op!r} has {len(children)} children but "
                             f"{len(local)} local gradients: give one local gradient per child")
        stack.append((node, True))
        stack.extend((child, False) for child in children)
    grads = {id(out): 1.0}
    for node in reversed(order):
        g = grads.get(id(node), 0.0)
        for child, local in zip(node._children, node._local_grads):
            grads[id(child)] = grads.get(id(child), 0.0) + float(local) * g
    return [grads.get(id(leaf), 0.0) for leaf in leaves]


@probe
def value_ops(sub):
    V = sub.Value
    rows = []
    for a, b, c in cases.value_points():
        row = {}
        for expr, fn in cases.VALUE_OPS:
            def data(fn=fn):
                return as_float(expr, fn(V(a), V(b), V(c)).data)

            def grads(fn=fn):
                leaves = [V(a), V(b), V(c)]
                return chain_rule(fn(*leaves), leaves)

            row[expr] = {"data": tried(f"computing {expr} with Values", data),
                         "grads": tried(f"computing {expr} with Values", grads)}
        rows.append(row)
    return {"rows": rows}


@probe
def value_plain_numbers(sub):
    V = sub.Value
    rows = []
    for v in cases.plain_number_points():
        row = {}
        for expr, fn in cases.PLAIN_NUMBER_OPS:
            def run(fn=fn):
                leaf = V(v)
                out = fn(leaf)
                return {"data": as_float(expr, out.data), "grad": chain_rule(out, [leaf])[0]}

            row[expr] = tried(f"computing {expr} for a Value v", run)
        rows.append(row)
    return {"rows": rows}


# ------------------------------------------------------------------ Part 2

def build_graph(V, spec):
    """The graph of `spec` made of the student's Values through the constructor given in the
    notebook, with data and local gradients computed here: Part 2 is judged without Part 1."""
    nodes, vals = [], []
    for node in spec:
        op = node[0]
        if op == "leaf":
            x = float(node[1])
            nodes.append(V(x))
            vals.append(x)
            continue
        ins = cases.inputs_of(node)
        xs = [vals[i] for i in ins]
        if op == "add":
            y, local = xs[0] + xs[1], (1.0, 1.0)
        elif op == "mul":
            y, local = xs[0] * xs[1], (xs[1], xs[0])
        elif op == "tanh":
            y = math.tanh(xs[0])
            local = (1.0 - y * y,)
        elif op == "exp":
            y = math.exp(xs[0])
            local = (y,)
        elif op == "relu":
            y, local = max(0.0, xs[0]), (1.0 if xs[0] > 0 else 0.0,)
        elif op == "pow":
            n = node[2]
            y, local = xs[0] ** n, (n * xs[0] ** (n - 1),)
        else:
            raise ValueError(op)
        nodes.append(V(y, tuple(nodes[i] for i in ins), local, op))
        vals.append(y)
    return nodes


def backward_grads(V, spec) -> list[float]:
    nodes = build_graph(V, spec)
    nodes[-1].backward()
    return [float(n.grad) for n in nodes]


@probe
def backward_random_graphs(sub):
    return {"graphs": {str(k + 1): tried(f"backward() on random graph {k + 1}", backward_grads,
                                         sub.Value, cases.random_graph(seed))
                       for k, seed in enumerate(cases.RANDOM_GRAPH_SEEDS)}}


@probe
def backward_reused_nodes(sub):
    return {"graphs": {str(k + 1): tried(f"backward() on small graph {k + 1}", backward_grads,
                                         sub.Value, spec)
                       for k, spec in enumerate(cases.reused_node_graphs())}}


@probe
def backward_deep_chain(sub):
    grads = tried("backward() on a 250-node deep chain", backward_grads, sub.Value, cases.deep_chain())
    if isinstance(grads, Failed) and "RecursionError" in grads.message:
        grads = Failed(grads.message + " (a recursive depth-first search is fine 250 nodes deep; "
                       "endless recursion usually means a node is visited again and again: keep a "
                       "`visited` set)")
    return {"grads": grads}


# ------------------------------------------------------------------ Part 3

@probe
def layers(sub):
    k = cases.layer_case()
    out = {}

    def linear():
        layer = sub.Linear(k["x"].shape[1], k["W"].shape[1], seed=0)
        layer.W, layer.b = k["W"].copy(), k["b"].copy()
        return layer

    out["linear_out"] = tried("Linear.forward", lambda: as_array(
        "Linear.forward", linear().forward(k["x"].copy())))

    def linear_backward():
        # two backward passes through the same layer (as two training steps make): the second
        # is judged, so gradients added to those of the first call show
        layer = linear()
        layer.forward(k["x"].copy())
        layer.backward(k["dout_before"].copy())
        layer.forward(k["x"].copy())
        dx = as_array("Linear.backward", layer.backward(k["dout"].copy()))
        return {"dx": dx, "dW": as_array("Linear.dW", layer.dW), "db": as_array("Linear.db", layer.db)}

    out["linear_grads"] = tried("Linear forward then backward", linear_backward)

    for name, key in (("ReLU", "z"), ("Sigmoid", "s")):
        cls = getattr(sub, name)
        out[f"{name}_out"] = tried(f"{name}.forward", lambda cls=cls, key=key: as_array(
            f"{name}.forward", cls().forward(k[key].copy())))

        def act_backward(cls=cls, key=key, name=name):
            layer = cls()
            layer.forward(k[key].copy())
            return as_array(f"{name}.backward", layer.backward(k["dout_act"].copy()))

        out[f"{name}_dx"] = tried(f"{name} forward then backward", act_backward)

    def stack():
        l1, act, l2, sig = sub.Linear(5, 8, seed=0), sub.ReLU(), sub.Linear(8, 3, seed=1), sub.Sigmoid()
        l1.W, l1.b, l2.W, l2.b = k["W1"].copy(), k["b1"].copy(), k["W2"].copy(), k["b2"].copy()
        for dout in (k["dout2_before"], k["dout2"]):  # two passes; the second is judged
            y = sig.forward(l2.forward(act.forward(l1.forward(k["x2"].copy()))))
            y = as_array("the stack's forward", y)
            dx = l1.backward(act.backward(l2.backward(sig.backward(dout.copy()))))
        return {"out": y, "dx": as_array("the stack's backward", dx),
                "dW1": as_array("dW", l1.dW), "db1": as_array("db", l1.db),
                "dW2": as_array("dW", l2.dW), "db2": as_array("db", l2.db)}

    with quiet():
        out["stack"] = tried("Linear -> ReLU -> Linear -> Sigmoid", stack)
    return out


# ------------------------------------------------------------------ Part 4

@probe
def losses(sub):
    k = cases.loss_case()

    def run(fn, name, *args):
        with quiet():
            result = fn(*(a.copy() for a in args))
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"{name} must return a pair (loss, gradient), got {type(result).__name__}")
        return {"loss": as_float(f"{name}'s loss", result[0]),
                "grad": as_array(f"{name}'s gradient", result[1])}

    return {
        "mse": tried("mse_loss", run, sub.mse_loss, "mse_loss", k["pred"], k["target"]),
        "ce": tried("softmax_cross_entropy", run, sub.softmax_cross_entropy,
                    "softmax_cross_entropy", k["logits"], k["labels"]),
        "ce_large": tried("softmax_cross_entropy with logits of 1000", run, sub.softmax_cross_entropy,
                          "softmax_cross_entropy", k["large_logits"], k["large_labels"]),
    }


# ------------------------------------------------------------------ Part 5

def mlp_with_case_weights(sub, k):
    model = sub.MLP(list(k["sizes"]), seed=3)
    linears = [layer for layer in model.layers if hasattr(layer, "W")]
    if len(linears) != len(k["weights"]):
        raise ValueError(f"MLP({k['sizes']}) has {len(linears)} Linear layers, expected "
                         f"{len(k['weights'])}: did the constructor change?")
    for layer, (W, b) in zip(linears, k["weights"]):
        layer.W, layer.b = W.copy(), b.copy()
    return model, linears


@probe
def mlp(sub):
    k = cases.mlp_case()

    def run():
        model, _ = mlp_with_case_weights(sub, k)
        out = as_array("MLP.forward", model.forward(k["x"].copy()))
        dx = as_array("MLP.backward", model.backward(k["dout"].copy()))
        params = model.parameters()
        if params is None:
            raise TypeError("MLP.parameters returned None: did you forget `return`?")
        pairs = [tuple(pair) for pair in params]
        if any(len(pair) != 2 for pair in pairs):
            raise TypeError("MLP.parameters must return a list of (param, grad) pairs")
        return {"out": out, "dx": dx,
                "params": [as_array("a parameter", p) for p, _ in pairs],
                "grads": [as_array("a gradient", g) for _, g in pairs]}

    return {"mlp": tried("MLP forward, backward and parameters", run)}


@probe
def sgd(sub):
    k = cases.mlp_case()

    def plain():
        pairs = [(p.copy(), g.copy()) for p, g in k["sgd_pairs"]]
        sub.sgd_step(pairs, k["lr"])
        return [np.array(p, dtype=np.float64) for p, _ in pairs]

    def model_step():
        model, linears = mlp_with_case_weights(sub, k)
        model.forward(k["x"].copy())
        model.backward(k["dout"].copy())
        sub.sgd_step(model.parameters(), k["lr"])
        return [as_array("W", layer.W) for layer in linears] + [as_array("b", layer.b) for layer in linears]

    return {"plain": tried("sgd_step", plain), "model": tried("one SGD step of the MLP", model_step)}


# ------------------------------------------------------------------ Part 6

@probe
def numgrad(sub):
    f, _, x = cases.numgrad_case()
    out = {}

    def run():
        x_in = x.copy()
        g = as_array("numerical_gradient", sub.numerical_gradient(f, x_in, eps=1e-6))
        return {"grad": g, "x_after": x_in}

    out["float64"] = tried("numerical_gradient", run)
    out["float32"] = tried("numerical_gradient with a float32 x", lambda: as_array(
        "numerical_gradient", sub.numerical_gradient(f, x.astype(np.float32), eps=1e-6)))
    return out


@probe
def gradcheck(sub):
    f, _, x, right, wrong = cases.gradcheck_case()
    return {
        "right": tried("gradient_check with a correct gradient", lambda: as_float(
            "gradient_check", sub.gradient_check(f, x.copy(), right.copy(), eps=1e-6))),
        "wrong": tried("gradient_check with a wrong gradient", lambda: as_float(
            "gradient_check", sub.gradient_check(f, x.copy(), wrong.copy(), eps=1e-6))),
    }


# ------------------------------------------------------------------ Part 7

class FreshGradients:
    """The student's MLP with every Linear's gradients cleared before each backward: train() is
    judged on its own, so a layer that adds to old gradients loses `layers`, not `training`."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        if name == "_model":  # not set yet (copy.deepcopy builds the object without __init__)
            raise AttributeError(name)
        return getattr(self._model, name)

    def backward(self, dout):
        for layer in getattr(self._model, "layers", ()):
            if isinstance(getattr(layer, "W", None), np.ndarray) and isinstance(getattr(layer, "b", None), np.ndarray):
                layer.dW, layer.db = np.zeros_like(layer.W), np.zeros_like(layer.b)
        return self._model.backward(dout)


@probe(timeout=60)
def training(sub):
    """Train the student's MLP with the student's train() on held-out real digits (scikit-learn's
    8x8 digits: never seen in the notebook), then predict the test images. The test labels are
    never given to the student's code."""
    X_train, y_train, X_test = cases.digits_inputs()
    hp = cases.TRAINING

    model = tried("MLP(...)", sub.MLP, list(hp["sizes"]), seed=hp["model_seed"])
    if isinstance(model, Failed):
        return {"losses": model, "predictions": model}
    model = FreshGradients(model)

    def run_train():
        with quiet():
            history = sub.train(model, X_train.copy(), y_train.copy(), epochs=hp["epochs"],
                                lr=hp["lr"], batch_size=hp["batch_size"], seed=hp["train_seed"])
        if history is None:
            raise TypeError("train returned None: it must return the list of per-epoch losses")
        return [float(v) for v in history]

    losses = tried("train", run_train)
    if isinstance(losses, Failed):
        return {"losses": losses, "predictions": Failed(f"the model could not be trained ({losses.message})")}

    def run_predict():
        with quiet():
            predictions = sub.predict(model, X_test.copy())
        if predictions is None:
            raise TypeError("predict returned None: did you forget `return`?")
        return np.asarray(predictions)

    return {"losses": losses, "predictions": tried("predict", run_predict)}


class StandIn:
    """A model for train() that learns nothing: its logits for an example are fixed (by the
    example's index, its first feature), so the judge knows every batch's loss. It records the
    examples of each update step (a forward followed by a backward)."""

    def __init__(self, logits):
        self.layers = []
        self._logits = logits
        self._last = None
        self.steps = []

    def forward(self, x):
        ids = np.rint(np.asarray(x, dtype=np.float64)[:, 0]).astype(np.int64)
        self._last = ids
        return self._logits[ids].copy()

    def backward(self, dout):
        if self._last is not None:
            self.steps.append(self._last.tolist())
        return np.zeros((len(dout), 4))

    def parameters(self):
        return []


@probe(timeout=30)
def training_bookkeeping(sub):
    """train() on the stand-in model: which examples each step used, the loss the student's own
    softmax_cross_entropy gave for each step, and the history train() returned."""
    k, hp = cases.spy_case(), cases.SPY
    model = StandIn(k["logits"])
    namespace = sub._namespace
    own_loss = namespace.get("softmax_cross_entropy")
    step_losses = {}

    def recording(logits, labels):
        result = own_loss(logits, labels)
        try:
            step_losses[len(model.steps)] = float(result[0])
        except Exception:  # noqa: BLE001 - the judge falls back to its own losses
            pass
        return result

    def run():
        with quiet():
            history = sub.train(model, k["X"].copy(), k["y"].copy(), epochs=hp["epochs"], lr=0.1,
                                batch_size=hp["batch_size"], seed=hp["seed"])
        if history is None:
            raise TypeError("train returned None: it must return the list of per-epoch losses")
        return [float(v) for v in history]

    if callable(own_loss):
        namespace["softmax_cross_entropy"] = recording
    try:
        history = tried("train", run)
    finally:
        if callable(own_loss):
            namespace["softmax_cross_entropy"] = own_loss
    losses = [step_losses.get(i) for i in range(len(model.steps))]
    return {"history": history, "steps": model.steps,
            "step_losses": losses if all(v is not None for v in losses) else None}
