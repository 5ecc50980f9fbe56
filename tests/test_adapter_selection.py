"""`crmkit.open` and `store_from_url` pick the adapter a URL names.

Built-in schemes, the ``CRMKIT_STORAGE_URL`` fallback, and plugins found in the
``crmkit.storage`` entry-point group of a real (if tiny) installed distribution.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import crmkit
from crmkit.adapters.memory import MemoryStore
from crmkit.adapters.sqlite import SqliteStore
from crmkit.app.crm import store_from_url
from crmkit.kernel.errors import StorageError, ValidationError

_PLUGIN = """
from crmkit.adapters.memory import MemoryStore

OPENED = []


def factory(url):
    OPENED.append(url)
    return MemoryStore()


def broken(url):
    raise AssertionError("never called")
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Install a distribution with two ``crmkit.storage`` entry points on ``sys.path``."""
    module = f"crmkit_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(_PLUGIN)
    info = tmp_path / "crmkit_test_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: crmkit-test-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        f"[crmkit.storage]\nfake = {module}:factory\nmissing = {module}_absent:factory\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield module
    sys.modules.pop(module, None)


def test_built_in_schemes(tmp_path: Path) -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    assert isinstance(store_from_url(f"sqlite:///{tmp_path}/crm.db"), SqliteStore)


def test_postgres_urls_make_a_postgres_store() -> None:
    pytest.importorskip("psycopg")
    from crmkit.adapters.postgres import PostgresStore

    for url in ("postgresql://crm@127.0.0.1:1/db", "postgres://crm@127.0.0.1:1/db"):
        store = store_from_url(url)  # connects lazily: nothing listens on port 1
        assert isinstance(store, PostgresStore)
        with pytest.raises(StorageError):
            store.open(crmkit.app.records.schema())
        store.close()


def test_open_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRMKIT_STORAGE_URL", "memory://")
    with crmkit.open() as crm:
        assert isinstance(crm.store, MemoryStore)
    monkeypatch.delenv("CRMKIT_STORAGE_URL")
    monkeypatch.chdir(tmp_path)
    with crmkit.open() as crm:  # the default: sqlite:///crmkit.db in the working directory
        assert isinstance(crm.store, SqliteStore)
    assert (tmp_path / "crmkit.db").exists()


def test_a_plugin_scheme_loads_its_factory(plugin: str) -> None:
    with crmkit.open("fake://anything/here") as crm:
        assert isinstance(crm.store, MemoryStore)
    assert sys.modules[plugin].OPENED == ["fake://anything/here"]


def test_a_plugin_that_fails_to_load_raises_storage_error(plugin: str) -> None:
    with pytest.raises(StorageError, match="missing://"):
        store_from_url("missing://x")


@pytest.mark.parametrize("url", ["mysql://host/db", "nonsense", "sqlite://relative.db", ""])
def test_an_unknown_scheme_names_the_known_ones(plugin: str, url: str) -> None:
    with pytest.raises(ValidationError) as info:
        crmkit.open(url)
    message = str(info.value)
    for scheme in ("memory://", "sqlite://", "postgresql://", "fake://"):
        assert scheme in message
    assert info.value.value == url


def test_a_password_never_shows_in_the_error() -> None:
    with pytest.raises(ValidationError) as info:
        store_from_url("mysql://crm:s3cret@db.example/crm")
    assert "s3cret" not in str(info.value)
    assert "mysql://crm:***@db.example/crm" in str(info.value)
