"""A bound on how much YAML aliases may repeat in a workflow file.

An alias (`*a`) stands for its anchor's whole value, the aliases inside it included:
six lines of nine aliases each made a 434-byte file hold 4.8 million values. PyYAML
builds that as shared objects in no time, but what comes after walks values one by
one: the shape check, the schema check, a problem message quoting the value, the
JSON a save writes and a GET answers (15 s of CPU, a 7.7 MB 422 body, 34 MB log
lines). So the loader weighs, on the composed nodes (each held once however often
it is used), what the aliases add, and refuses the file before any value is built.
"""

from __future__ import annotations

from typing import NamedTuple

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: What aliases may add to a file, in values (each list, mapping, key and scalar
#: counts one) plus characters of text. Reusing a block's settings or a schema a
#: few dozen times adds thousands; past this, a file multiplies itself.
MAX_ALIASED = 1_000_000


class PastTheBound(NamedTuple):
    """Where the aliases pass :data:`MAX_ALIASED`: the path of the alias that does,
    and the line of the anchor it repeats."""

    path: tuple[str, ...]
    anchor_line: int


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _own_weight(node: Node) -> int:
    return 1 + len(node.value) if isinstance(node, ScalarNode) else 1


def _expanded_weights(root: Node) -> dict[int, int]:
    """id(node) -> its weight with every alias in it expanded, capped just past
    MAX_ALIASED (a bomb's true weight is a number nobody needs). Each node is
    weighed once; iterative, as a file may nest thousands deep. A node that holds
    itself counts once where it recurs: the shape check refuses it in words."""
    weights: dict[int, int] = {}
    on_path: set[int] = set()
    todo: list[tuple[Node, bool]] = [(root, False)]
    while todo:
        node, children_done = todo.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            total = _own_weight(node) + sum(weights.get(id(c), 1) for c in _children(node))
            weights[key] = min(total, MAX_ALIASED + 1)
        elif key not in weights and key not in on_path:
            on_path.add(key)
            todo.append((node, True))
            todo += [(child, False) for child in _children(node)]
    return weights


def too_much_aliased(root: Node) -> PastTheBound | None:
    """The alias, in file order, past which aliases add more than MAX_ALIASED to the
    file; None when they do not (nor when there are none)."""
    weights: dict[int, int] | None = None
    added = 0
    seen: set[int] = set()
    # (node, path, whether it is in a key: a key's parts are where the key is)
    todo: list[tuple[Node, tuple[str, ...], bool]] = [(root, (), False)]
    while todo:
        node, path, in_key = todo.pop()
        if id(node) in seen:  # an alias: everything under its anchor once more
            if weights is None:
                weights = _expanded_weights(root)
            added += weights.get(id(node), 1)
            if added > MAX_ALIASED:
                return PastTheBound(path, node.start_mark.line + 1)
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for k, v in reversed(node.value):  # a key may hold aliases too (`? [*a]`)
                inner = path if in_key or not isinstance(k, ScalarNode) else (*path, k.value)
                todo += [(v, inner, in_key), (k, path, True)]
        elif isinstance(node, SequenceNode):
            todo += [
                (v, path if in_key else (*path, str(i)), in_key)
                for i, v in reversed(list(enumerate(node.value)))
            ]
    return None
