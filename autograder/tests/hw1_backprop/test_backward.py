"""Part 2 (value_backward): Value.backward on graphs built with the notebook's constructor, so
that these tests judge backward() alone. The reference is torch autograd in float64."""
from __future__ import annotations

import math

from autograder.tests.hw1_backprop import cases
from autograder.tests.hw1_backprop.oracle import graph_grads


def _same(got: float, expected: float) -> bool:
    return math.isfinite(got) and abs(got - expected) <= 1e-9 * max(1.0, abs(expected))


def _describe(spec, k) -> str:
    node = spec[k]
    if node[0] == "leaf":
        return f"leaf {k}"
    return f"node {k} ({node[0]})"


def diagnose(spec, got) -> str | None:
    """None if every gradient is right; else the likeliest mistake, found at the wrong node
    closest to the output (all the nodes that use it have the right gradient)."""
    expected = graph_grads(spec)
    if len(got) != len(expected):
        return f"expected one gradient per node, got {len(got)} for {len(expected)} nodes"
    if not _same(got[-1], 1.0):
        return ("the output's grad is not 1.0 after backward(): backward() must start with "
                "self.grad = 1.0 (d out / d out)")
    uses = [0] * len(spec)
    for node in spec:
        for i in cases.inputs_of(node):
            uses[i] += 1
    for k in range(len(spec) - 1, -1, -1):  # creation order reversed is a topological order
        if _same(got[k], expected[k]):
            continue
        # never the expected value: a student could hard-code it
        where = f"{_describe(spec, k)} " + ("gets no gradient (0)" if got[k] == 0 else "gets a wrong gradient")
        if uses[k] >= 2:
            return (f"{where}. It is used by {uses[k]} operations: the gradient of a node used more "
                    "than once must accumulate one contribution per use (child.grad += ...), not be "
                    "overwritten, and a node may pass its gradient on only once it is complete "
                    "(walk the topological order in reverse)")
        return (f"{where}, although the node that uses it has the right gradient: either that node "
                "passed its gradient on before it was complete (visit nodes in reverse topological "
                "order, each once), or the rule child.grad += local_grad * node.grad was not applied")
    return None


def test_backward_random_graphs(student):
    graphs = student("backward_random_graphs")["graphs"]
    for k, seed in enumerate(cases.RANDOM_GRAPH_SEEDS):
        spec = cases.random_graph(seed)
        problem = diagnose(spec, graphs[str(k + 1)])
        assert problem is None, f"Value.backward on random graph {k + 1} ({len(spec)} nodes): {problem}"


SMALL = ["a * a", "a + a", "a * b + a", "e = tanh(a * b); e * e + e", "c = a * b; tanh(c) * exp(c)",
         "a ** 3 * a + a"]


def test_backward_reused_node_accumulates(student):
    graphs = student("backward_reused_nodes")["graphs"]
    for k, spec in enumerate(cases.reused_node_graphs()):
        problem = diagnose(spec, graphs[str(k + 1)])
        assert problem is None, f"Value.backward on {SMALL[k]}: {problem}"


def test_backward_deep_chain_topological_order(student):
    grads = student("backward_deep_chain")["grads"]
    spec = cases.deep_chain()
    problem = diagnose(spec, grads)
    assert problem is None, (
        "Value.backward on a chain 250 nodes deep with three shared weights and skip connections: "
        f"{problem}")
