"""Shared test settings: a deterministic, deadline-free hypothesis profile for CI; PostgreSQL."""

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


# --- PostgreSQL: a real server from CRMKIT_TEST_POSTGRES_URL, a fresh schema per store ---

POSTGRES_URL = "CRMKIT_TEST_POSTGRES_URL"
_NO_POSTGRES = (
    f"no PostgreSQL server: set {POSTGRES_URL}=postgresql://user@host:port/db to run the"
    " PostgreSQL tests (.ci/run starts one)"
)


@pytest.fixture
def postgres_url() -> str:
    """The test server's URL; without one the test skips (fails if CRMKIT_REQUIRE_POSTGRES=1)."""
    url = os.environ.get(POSTGRES_URL, "")
    if not url:
        if os.environ.get("CRMKIT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"CRMKIT_REQUIRE_POSTGRES=1, but {_NO_POSTGRES}", pytrace=False)
        pytest.skip(_NO_POSTGRES)
    return url


@pytest.fixture
def postgres_schemas(postgres_url: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty schemas on the test server: each call returns a conninfo
    whose tables live in a new schema; all of them are dropped after the test."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    made: list[str] = []

    def fresh() -> str:
        name = f"crmkit_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{name}"')
        made.append(name)
        return make_conninfo(postgres_url, options=f"-csearch_path={name}")

    yield fresh
    if made:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for name in made:
                admin.execute(f'DROP SCHEMA "{name}" CASCADE')


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[object]:
    """A fresh, unopened store of each built-in kind (PostgreSQL only with a test server)."""
    from crmkit.adapters.memory import MemoryStore
    from crmkit.adapters.sqlite import SqliteStore

    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "sqlite":
        yield SqliteStore(f"{tmp_path}/crm.db")
    else:
        from crmkit.adapters.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("postgres_schemas")())
        yield store
        store.close()
