"""MkDocs hook: draw each lifecycle from the state machine itself.

A page marks where a diagram goes with an HTML comment that names a
`crmkit.kernel.lifecycle.Lifecycle` by module and attribute::

    <!-- lifecycle: crmkit.parties.contact:CONTACT_LIFECYCLE -->

At build time the marker becomes a ``mermaid`` fence holding
``lifecycle.to_mermaid()``, so a diagram can never disagree with the table
the code runs. A marker that does not resolve to a `Lifecycle` stops the
build. ``tests/test_docs.py`` checks the same thing without building.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

from crmkit.kernel.lifecycle import Lifecycle

MARKER = re.compile(r"<!--\s*lifecycle:\s*(?P<module>[\w.]+):(?P<name>\w+)\s*-->")
"""A lifecycle marker: ``<!-- lifecycle: package.module:ATTRIBUTE -->``."""


class MarkerError(LookupError):
    """A lifecycle marker names something that is not a `Lifecycle`."""


def resolve(module: str, name: str) -> Lifecycle[Any]:
    """The `Lifecycle` that ``module:name`` names; `MarkerError` if there is none."""
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise MarkerError(f"lifecycle marker {module}:{name} does not resolve: {exc}") from None
    if not isinstance(found, Lifecycle):
        raise MarkerError(f"lifecycle marker {module}:{name} is a {type(found).__name__}")
    return found


def mermaid_fence(lifecycle: Lifecycle[Any]) -> str:
    """A Markdown ``mermaid`` fence holding the lifecycle's diagram."""
    return f"```mermaid\n{lifecycle.to_mermaid()}\n```"


def render(markdown: str) -> str:
    """``markdown`` with every lifecycle marker replaced by its diagram."""
    return MARKER.sub(
        lambda found: mermaid_fence(resolve(found["module"], found["name"])), markdown
    )


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs event: replace the markers of each page before it is rendered."""
    return render(markdown)
