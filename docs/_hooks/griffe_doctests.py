"""Griffe extension: render bare doctest blocks in docstrings as code.

crmkit's docstrings hold runnable ``>>>`` examples (pytest runs them with
``--doctest-modules``), often at the top level of the docstring rather than
under an ``Examples:`` section. The Google-style parser leaves those as plain
Markdown, where ``>>>`` starts a nested block quote and ``[...]`` in an output
line reads as a link. This extension wraps each top-level doctest block (a run
of lines from a line starting with ``>>>`` to the next blank line) in a
``pycon`` fence before the docstring is parsed. Indented examples, such as
those under an ``Examples:`` section, are left to the parser.

It is loaded by the mkdocstrings handler (``extensions:`` in ``mkdocs.yml``).
Without Griffe installed (a test-only environment) the module imports cleanly
and defines only `fence_doctests`.
"""

from __future__ import annotations

import re
from typing import Any

_FLAGS = re.compile(r"\s*#\s*doctest:.+$")


def fence_doctests(text: str) -> str:
    """``text`` with every top-level ``>>>`` block wrapped in a ``pycon`` fence."""
    out: list[str] = []
    in_fence = False
    in_example = False
    for line in text.split("\n"):
        if in_example:
            if line.strip():
                out.append(_FLAGS.sub("", line))
                continue
            out.append("```")
            in_example = False
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and line.startswith(">>>"):
            if out and out[-1].strip():
                out.append("")
            out.extend(["```pycon", _FLAGS.sub("", line)])
            in_example = True
            continue
        out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out)


try:
    import griffe
except ImportError:  # pragma: no cover - only the docs build needs Griffe
    pass
else:

    class DoctestFences(griffe.Extension):
        """Wrap top-level doctest blocks of every docstring in ``pycon`` fences."""

        def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
            """Rewrite the docstring of ``obj`` before it is parsed."""
            if obj.docstring is not None and ">>>" in obj.docstring.value:
                obj.docstring.value = fence_doctests(obj.docstring.value)
