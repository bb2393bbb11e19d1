"""A picture of one execution: the state machine drawn from its ASL, with the path this execution
took, its retries, the state it failed at and where a redrive resumed.

``mermaid(...)`` gives Mermaid text (``executions show <x> --graph -``); ``render(...)`` writes SVG or
PNG through Graphviz (the ``graphviz`` package; the ``dot`` program from Debian's ``graphviz``).
Top-level states only: a Parallel or Map state is one node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .timeline import Timeline

EDGE_FIELDS = ("Next", "Default")


@dataclass
class Node:
    name: str
    type: str
    entered: int = 0  # times the execution entered it
    retries: int = 0
    failed: bool = False
    resumed: bool = False  # a redrive resumed the execution here

    def label(self) -> str:
        notes = []
        if self.retries:
            notes.append(f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}")
        if self.failed:
            notes.append("FAILED here")
        if self.resumed:
            notes.append("redrive resumed here")
        return self.name + (f" ({', '.join(notes)})" if notes else "")


@dataclass
class Graph:
    nodes: dict[str, Node]
    edges: list[tuple[str, str, str, bool]]  # (from, label, to, caught)
    taken: set[tuple[str, str]] = field(default_factory=set)
    start: str = ""


def build(definition: dict[str, Any], timeline: Timeline, failed_state: str | None) -> Graph:
    states = definition["States"]
    nodes = {name: Node(name, state["Type"]) for name, state in states.items()}
    edges: list[tuple[str, str, str, bool]] = []
    for name, state in states.items():
        for key in EDGE_FIELDS:
            if key in state:
                edges.append((name, "otherwise" if key == "Default" else "", state[key], False))
        for rule in state.get("Choices", []):
            edges.append((name, str(rule.get("StringEquals", rule.get("BooleanEquals", ""))), rule["Next"], False))
        for catcher in state.get("Catch", []):
            edges.append((name, ",".join(catcher["ErrorEquals"]), catcher["Next"], True))
    graph = Graph(nodes=nodes, edges=edges, start=definition["StartAt"])
    previous: str | None = None
    for run in timeline.states:
        node = nodes.get(run.name)
        if node is None:  # a nested state (inside a Parallel or Map branch)
            continue
        node.entered += 1
        node.retries += len(run.retries)
        node.failed = node.failed or run.status == "failed"  # where a run stopped, redriven or not
        if run.run and not any(n.resumed for n in nodes.values()) and previous is not None:
            node.resumed = True
        if previous is not None and previous != run.name:
            graph.taken.add((previous, run.name))
        previous = run.name
    if failed_state in nodes:
        nodes[failed_state].failed = True
    return graph


def _id(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def mermaid(graph: Graph) -> str:
    lines = ["flowchart TD", "    Start([Start])", f"    Start --> {_id(graph.start)}"]
    for node in graph.nodes.values():
        shape = ("{%s}" if node.type == "Choice" else "([%s])" if node.type in ("Succeed", "Fail") else '["%s"]')
        lines.append(f"    {_id(node.name)}{shape % node.label()}")
    for source, label, target, caught in graph.edges:
        arrow = "-.->" if caught else ("==>" if (source, target) in graph.taken else "-->")
        lines.append(f"    {_id(source)} {arrow}{f'|{label}|' if label else ''} {_id(target)}")
    for node in graph.nodes.values():
        if node.failed:
            lines.append(f"    style {_id(node.name)} fill:#f8d7da,stroke:#b02a37")
        elif node.entered:
            lines.append(f"    style {_id(node.name)} fill:#d1e7dd,stroke:#146c43")
    return "\n".join(lines) + "\n"


def render(graph: Graph, path: Path) -> Path:
    """Write ``path`` (``.svg`` or ``.png``) with Graphviz; raises RuntimeError if ``dot`` is missing."""
    import graphviz

    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png"):
        raise ValueError(f"--graph {path}: write .svg or .png (or - for Mermaid text)")
    dot = graphviz.Digraph(format=fmt, graph_attr={"rankdir": "TB"}, node_attr={"fontname": "Helvetica"})
    dot.node("Start", "Start", shape="oval")
    dot.edge("Start", _id(graph.start), penwidth="2")
    for node in graph.nodes.values():
        colour = "#f8d7da" if node.failed else "#d1e7dd" if node.entered else "white"
        shape = "diamond" if node.type == "Choice" else "oval" if node.type in ("Succeed", "Fail") else "box"
        dot.node(_id(node.name), node.label(), shape=shape, style="filled", fillcolor=colour)
    for source, label, target, caught in graph.edges:
        taken = (source, target) in graph.taken
        dot.edge(_id(source), _id(target), label=label, style="dashed" if caught else "solid",
                 penwidth="2.5" if taken else "1", color="#146c43" if taken else "black")
    try:
        data = dot.pipe()
    except graphviz.ExecutableNotFound as exc:
        raise RuntimeError("drawing SVG/PNG needs Graphviz's dot (Debian: apt-get install graphviz); "
                           "--graph - prints Mermaid text without it") from exc
    path.write_bytes(data)
    return path
