"""YAML read strictly, remembering the line of every value, so errors can name it.

PyYAML's `safe_load` forgets where a value came from and keeps the last of two equal keys
without a word. Composing the node tree instead gives each mapping key and list item its
line; a duplicate key is refused at its own line.
"""

from __future__ import annotations

from typing import Any

import yaml

from features.errors import ConfigError

Path = tuple[str | int, ...]
_SCALARS = yaml.SafeLoader("")  # constructs plain scalars; holds no state between them


def load_with_lines(text: str, source: str) -> tuple[Any, dict[Path, int]]:
    """The document's plain value and, for each path into it, its 1-based line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML ({problem}).") from None
    lines: dict[Path, int] = {}
    if node is None:
        return None, lines
    return _plain(node, (), lines, source), lines


def line_of(lines: dict[Path, int], path: Path) -> int | None:
    """The line of `path`, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _plain(node: yaml.Node, path: Path, lines: dict[Path, int], source: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _plain(key_node, (*path, "<key>"), {}, source)
            if key in out:
                raise ConfigError(f"{source} line {key_node.start_mark.line + 1}: "
                                  f"{key!r} is given twice; keep one.")
            out[key] = _plain(value_node, (*path, str(key)), lines, source)
            lines[(*path, str(key))] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), lines, source) for i, item in enumerate(node.value)]
    return _SCALARS.construct_object(node, deep=True)
