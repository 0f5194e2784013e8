"""Export the computation graph behind a tensor to Graphviz DOT, to see what backward will walk.

Every op records a ``Function`` node whose ``inputs`` are tensors, each made by another Function
(its ``creator``) or by the user (a leaf: an input or a parameter). ``to_dot(loss)`` walks these
links from the output back to the leaves, the same walk ``loss.backward()`` makes, and writes one
DOT node per tensor (an ellipse: name, shape, dtype) and per Function (a box: the op's name).
Parameters are blue and named when a model is given; inputs are grey.

``render`` turns the DOT text into an SVG or PNG with Graphviz's ``dot`` program when it is
installed (``apt install graphviz``); the ``.dot`` file is written either way.

Export before calling ``backward()`` (or call it with ``retain_graph=True``): backward frees the
graph as it goes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from pathlib import Path
from typing import Any

from scratchnet.tensor import Tensor


def to_dot(output: Tensor, model: Any = None, show_shapes: bool = True, title: str = "") -> str:
    """The graph that produced ``output`` as Graphviz DOT text.

    Parameters
    ----------
    output : Tensor
        Usually the loss.
    model : Module, optional
        Names its parameters in the graph (``conv1.weight`` ...).
    show_shapes : bool
        Print each tensor's shape and dtype.
    """
    names = {id(p): name for name, p in model.named_parameters()} if model is not None else {}
    lines = [
        "digraph computation {",
        '  rankdir="BT";',
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    if title:
        lines.append(f'  labelloc="t"; label="{_escape(title)}";')
    drawn: set[int] = set()

    def tensor_node(t: Tensor, default_name: str) -> str:
        node = f"t{id(t)}"
        if id(t) not in drawn:
            drawn.add(id(t))
            label = names.get(id(t), default_name)
            if show_shapes:
                label += f"\\n{tuple(t.shape)} {t.dtype}"
            fill = "lightblue" if id(t) in names else ("lightgrey" if t.is_leaf else "white")
            lines.append(
                f'  {node} [label="{_escape(label)}", shape=ellipse, style=filled, '
                f"fillcolor={fill}];"
            )
        return node

    tensor_node(output, "output")
    queue: deque[tuple[Any, Tensor]] = deque()
    if output.creator is not None:
        queue.append((output.creator, output))
    seen_functions: set[int] = set()
    while queue:  # breadth-first from the output: iterative, so deep networks are fine
        function, made = queue.popleft()
        function_node = f"f{id(function)}"
        lines.append(f"  {function_node} -> t{id(made)};")
        if id(function) in seen_functions:
            continue
        seen_functions.add(id(function))
        if function.inputs is None:
            raise RuntimeError(
                "to_dot: the graph was freed by backward(); export before backward, or call "
                "backward(retain_graph=True)"
            )
        lines.append(
            f'  {function_node} [label="{function.name}", shape=box, style=filled, '
            "fillcolor=orange];"
        )
        for x in function.inputs:
            lines.append(f"  {tensor_node(x, 'input' if x.is_leaf else '')} -> {function_node};")
            if x.creator is not None:
                queue.append((x.creator, x))
    lines.append("}")
    return "\n".join(dict.fromkeys(lines)) + "\n"  # an edge reached twice is drawn once


def render(dot_source: str, path: str | os.PathLike, format: str = "svg") -> Path | None:
    """Write ``path`` with suffix ``.dot`` and, if Graphviz's ``dot`` is installed, the rendered
    ``.svg``/``.png`` beside it; returns the rendered file, or None without Graphviz.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dot_path = path.with_suffix(".dot")
    dot_path.write_text(dot_source)
    program = shutil.which("dot")
    if program is None:
        return None
    out = path.with_suffix(f".{format}")
    subprocess.run(
        [program, f"-T{format}", str(dot_path), "-o", str(out)], check=True, capture_output=True
    )
    return out


def _escape(text: str) -> str:
    return text.replace('"', '\\"')
