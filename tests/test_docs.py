"""The documentation stays true to the code without building the site.

* Every lifecycle marker in the docs resolves, and the MkDocs hook turns it
  into exactly ``Lifecycle.to_mermaid()``.
* Every lifecycle crmkit defines has a diagram in the docs.
* Every name in ``crmkit.__all__`` is covered by a ``:::`` directive in
  ``docs/reference``.

The ``>>>`` examples of the pages themselves run through pytest's
``--doctest-glob=*.md`` (see ``pyproject.toml``).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest

import crmkit
from crmkit.kernel.lifecycle import Lifecycle

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = DOCS / "reference"


def _load(name: str) -> ModuleType:
    path = DOCS / "_hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_crmkit_docs_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = _load("lifecycle_diagrams")
doctest_fences = _load("griffe_doctests")


def _pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if "_hooks" not in path.parts)


def _markers() -> list[tuple[Path, re.Match[str]]]:
    return [(page, found) for page in _pages() for found in hook.MARKER.finditer(page.read_text())]


MARKERS = _markers()


def test_the_lifecycles_page_has_markers() -> None:
    assert any(page.name == "lifecycles.md" for page, _ in MARKERS)


@pytest.mark.parametrize(
    ("page", "marker"),
    [(page, found) for page, found in MARKERS],
    ids=[f"{page.name}:{found['name']}" for page, found in MARKERS],
)
def test_every_marker_resolves_and_renders_to_mermaid(page: Path, marker: re.Match[str]) -> None:
    lifecycle = hook.resolve(marker["module"], marker["name"])
    assert isinstance(lifecycle, Lifecycle)
    assert hook.render(marker.group(0)) == f"```mermaid\n{lifecycle.to_mermaid()}\n```"


PAGES_WITH_MARKERS = sorted({page for page, _ in MARKERS})


@pytest.mark.parametrize("page", PAGES_WITH_MARKERS, ids=[page.name for page in PAGES_WITH_MARKERS])
def test_the_hook_replaces_every_marker_of_a_page(page: Path) -> None:
    source = page.read_text()
    rendered = hook.on_page_markdown(source, page=None, config=None, files=None)
    assert hook.MARKER.search(rendered) is None
    fences = re.findall(r"```mermaid\n(.*?)\n```", rendered, flags=re.DOTALL)
    expected = [
        hook.resolve(found["module"], found["name"]).to_mermaid()
        for found in hook.MARKER.finditer(source)
    ]
    assert fences[-len(expected) :] == expected


def test_a_marker_that_does_not_resolve_stops_the_build() -> None:
    with pytest.raises(hook.MarkerError):
        hook.render("<!-- lifecycle: crmkit.parties.contact:NO_SUCH_LIFECYCLE -->")
    with pytest.raises(hook.MarkerError):
        hook.render("<!-- lifecycle: crmkit.no_such_module:CONTACT_LIFECYCLE -->")
    with pytest.raises(hook.MarkerError):
        hook.render("<!-- lifecycle: crmkit.parties.contact:Contact -->")


def _lifecycles_by_object() -> dict[int, set[tuple[str, str]]]:
    """Every module-level Lifecycle in crmkit, with each (module, name) that holds it."""
    found: dict[int, set[tuple[str, str]]] = {}
    for info in pkgutil.walk_packages(crmkit.__path__, "crmkit."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Lifecycle) and not name.startswith("_"):
                found.setdefault(id(value), set()).add((info.name, name))
    return found


def test_every_lifecycle_has_a_diagram() -> None:
    shown = {(found["module"], found["name"]) for _, found in MARKERS}
    missing = [sorted(places) for places in _lifecycles_by_object().values() if not places & shown]
    assert not missing, f"lifecycles without a diagram: {missing}"


# --- the API reference --------------------------------------------------------

_DIRECTIVE = re.compile(r"^::: (?P<target>[\w.]+)[ \t]*\n(?P<options>(?:(?:[ ]{4}.*)?\n)*)", re.M)


def _members(options: str) -> list[str] | None:
    """The explicit ``members`` list in a directive's options; None when all members show."""
    found = re.search(r"^[ ]+members:[ \t]*(.*)\n((?:[ ]+- .*\n)*)", options, flags=re.M)
    if found is None:
        return None
    inline, listed = found[1].strip(), found[2]
    if not inline:
        return [line.strip()[2:].strip() for line in listed.splitlines()]
    if inline in {"false", "no", "[]"}:
        return []
    if inline in {"true", "yes"}:
        return None
    return [member.strip() for member in inline.strip("[]").split(",")]


def _directives() -> dict[str, list[str] | None]:
    """Each ``:::`` target in docs/reference, with its explicit ``members`` list if any."""
    return {
        found["target"]: _members(found["options"])
        for page in sorted(REFERENCE.glob("*.md"))
        for found in _DIRECTIVE.finditer(page.read_text() + "\n")
    }


DIRECTIVES = _directives()


def test_every_directive_names_an_importable_module() -> None:
    assert DIRECTIVES, "docs/reference has no ::: directives"
    for target in DIRECTIVES:
        importlib.import_module(target)


NOT_IN_REFERENCE = {"crmkit.cli"}
"""Modules the reference leaves out: the command line is documented in the guide."""


def _is_private(name: str) -> bool:
    """A module is private when any part of its dotted name starts with ``_``."""
    return any(part.startswith("_") for part in name.split("."))


def test_every_module_is_in_the_reference() -> None:
    modules = {
        info.name
        for info in pkgutil.walk_packages(crmkit.__path__, "crmkit.")
        if not info.ispkg and not _is_private(info.name)
    }
    missing = sorted(modules - NOT_IN_REFERENCE - set(DIRECTIVES))
    assert not missing, f"modules without a '::: module' directive in docs/reference: {missing}"


def _home(name: str) -> str:
    """The module that defines the public name ``name``."""
    if name == "__version__":
        return "crmkit"
    obj = getattr(crmkit, name)
    module = getattr(obj, "__module__", None)
    assert isinstance(module, str), f"crmkit.{name} has no defining module"
    assert getattr(importlib.import_module(module), name, None) is obj, (
        f"crmkit.{name} is not {module}.{name}"
    )
    return module


@pytest.mark.parametrize("name", sorted(crmkit.__all__))
def test_every_public_name_is_in_the_reference(name: str) -> None:
    home = _home(name)
    assert home in DIRECTIVES, f"crmkit.{name}: no '::: {home}' in docs/reference"
    members = DIRECTIVES[home]
    if members is not None:
        assert name in members, f"crmkit.{name}: '::: {home}' lists members without it"
    if name != "__version__":
        # mkdocstrings leaves out members without a docstring of their own.
        assert getattr(crmkit, name).__doc__, f"crmkit.{name} has no docstring"


def test_fence_doctests_wraps_top_level_examples_only() -> None:
    text = "Money.\n\nAttributes:\n    x: y.\n\n>>> 1 + 1\n2\n\nExamples:\n    >>> 3\n    3"
    assert doctest_fences.fence_doctests(text) == (
        "Money.\n\nAttributes:\n    x: y.\n\n```pycon\n>>> 1 + 1\n2\n```\n\n"
        "Examples:\n    >>> 3\n    3"
    )
