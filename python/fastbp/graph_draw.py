"""Drawing a computational graph of :class:`fastbp.graph.Value` nodes (matplotlib only).

The figure reads as the textbook figures of the apple example do: inputs on
the left, the output on the right; each node a box with its name (or operation),
its forward value and its gradient; forward edges (input -> operation) in one
colour, backward edges (the gradient flowing back) in another. Use it through
:func:`fastbp.graph.draw`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

if TYPE_CHECKING:
    from fastbp.graph import Value

__all__ = ["FORWARD_COLOR", "BACKWARD_COLOR", "draw"]

FORWARD_COLOR = "tab:blue"
BACKWARD_COLOR = "tab:red"
_OP_NAMES = {"*": "×", "+": "+", "exp": "exp", "sigmoid": "σ", "tanh": "tanh", "relu": "ReLU"}
_FORMATS = (".png", ".svg")


def _columns(output: "Value") -> Tuple[List["Value"], Dict[int, int]]:
    """The nodes (inputs before outputs) and each node's column: the output in
    the last, every other node one column left of its leftmost consumer, so an
    input sits right next to the operation that takes it."""
    order = output._topological_order()
    dist: Dict[int, int] = {id(output): 0}  # longest path to the output
    for node in reversed(order):
        for child in node._prev:
            dist[id(child)] = max(dist.get(id(child), 0), dist[id(node)] + 1)
    last = max(dist.values())
    return order, {k: last - v for k, v in dist.items()}


def _positions(order: List["Value"], column: Dict[int, int]) -> Dict[int, Tuple[float, float]]:
    """(x, y) per node: columns from the output leftwards, each column sorted by
    the mean height of the nodes it feeds (to keep edges from crossing), first
    arguments on top."""
    consumers: Dict[int, List[Tuple[int, int]]] = {}  # child -> (consumer, argument index)
    for node in order:
        for k, child in enumerate(node._prev):
            consumers.setdefault(id(child), []).append((id(node), k))
    by_col: Dict[int, List["Value"]] = {}
    for node in order:
        by_col.setdefault(column[id(node)], []).append(node)
    pos: Dict[int, Tuple[float, float]] = {}
    for col in sorted(by_col, reverse=True):
        nodes = by_col[col]
        def height(n: "Value", i: int) -> Tuple[float, int]:
            # first arguments above later ones, as the formula reads
            ys = [pos[c][1] - 0.01 * k for c, k in consumers.get(id(n), []) if c in pos]
            return (-(sum(ys) / len(ys)) if ys else 0.0, i)
        ranked = sorted(range(len(nodes)), key=lambda i: height(nodes[i], i))
        for rank, i in enumerate(ranked):
            pos[id(nodes[i])] = (float(col), (len(nodes) - 1) / 2.0 - rank)
    return pos


def _text(node: "Value") -> str:
    if node._prev:
        op = _OP_NAMES.get(node._op, node._op)
        head = f"{node.label} = {op}" if node.label else op
    else:
        head = node.label or "const"
    return f"{head}\nvalue {node.data:.4g}\ngrad {node.grad:.4g}"


def draw(output: Any, path: Optional[str] = None) -> Any:
    """See :func:`fastbp.graph.draw`."""
    from fastbp.graph import Value

    if isinstance(output, dict) and isinstance(output.get("graph"), Value):
        output = output["graph"]  # a gates example's result
    if not isinstance(output, Value):
        raise TypeError(f"draw: output must be a fastbp.graph.Value (or a gates result with a "
                        f"'graph'), got {type(output).__name__}")
    if path is not None:
        path = os.fspath(path)
        if os.path.splitext(path)[1].lower() not in _FORMATS:
            raise ValueError(f"draw: path must end in .png or .svg, got {path!r}")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ImportError as e:
        raise ImportError("draw needs matplotlib: pip install matplotlib "
                          "(or 'fastbp[examples]')") from e
    order, column = _columns(output)
    pos = _positions(order, column)
    n_cols = max(column.values()) + 1
    n_rows = max(sum(1 for c in column.values() if c == col) for col in range(n_cols))
    fig = Figure(figsize=(2.6 * n_cols + 1.0, 1.5 * n_rows + 1.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    boxes = {}
    for node in order:
        x, y = pos[id(node)]
        face = "#fff4d6" if node._prev else "#e8f0fb"
        boxes[id(node)] = ax.text(
            x, y, _text(node), ha="center", va="center", fontsize=9, zorder=3,
            bbox=dict(boxstyle="round,pad=0.4", fc=face, ec="0.3",
                      lw=1.6 if node is output else 0.8))
    for node in order:
        for child in node._prev:
            a, b = boxes[id(child)], boxes[id(node)]
            for start, end, colour in ((a, b, FORWARD_COLOR), (b, a, BACKWARD_COLOR)):
                ax.annotate("", xy=(0.5, 0.5), xycoords=end, xytext=(0.5, 0.5),
                            textcoords=start, zorder=2,
                            arrowprops=dict(arrowstyle="-|>", color=colour, lw=1.3,
                                            shrinkA=2, shrinkB=2, patchA=start.get_bbox_patch(),
                                            patchB=end.get_bbox_patch(),
                                            connectionstyle="arc3,rad=0.18"))
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-(n_rows - 1) / 2.0 - 0.7, (n_rows - 1) / 2.0 + 0.7)
    ax.axis("off")
    ax.legend(handles=[Line2D([], [], color=FORWARD_COLOR, lw=1.5, label="forward: values"),
                       Line2D([], [], color=BACKWARD_COLOR, lw=1.5, label="backward: gradients")],
              loc="lower center", bbox_to_anchor=(0.5, -0.02), ncol=2, frameon=False, fontsize=9)
    title = output.label or "output"
    ax.set_title(f"computational graph of {title} = {output.data:.4g}", fontsize=11)
    fig.tight_layout()
    if path is not None:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig
