"""``crmkit report``: readable tables, JSON, charts and one-line errors on a SQLite file."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from crmkit import FakeClock, Money, Principal
from crmkit._tables import MISSING, cell_text, table, totals
from crmkit.app.crm import open as open_crm
from crmkit.cli import main
from crmkit.kernel.ids import SequentialIds

MAX = Principal("u-max", roles={"sales_manager"})


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file with four open deals (one in USD, one unowned), two won and a campaign."""
    path = tmp_path_factory.mktemp("reports") / "crm.db"
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    crm = open_crm(f"sqlite:///{path}", clock=clock, ids=SequentialIds("t"))
    with crm, crm.unit_of_work(MAX) as uow:
        acme = uow.accounts.create("ACME")
        globex = uow.accounts.create("Globex")
        for name, amount, stage, owner in [
            ("Pumps", Money.of("1000", "EUR"), "prospecting", "u-anna"),
            ("Valves", Money.of("2000", "EUR"), "proposal", "u-anna"),
            ("Seals", Money.of("500", "EUR"), "proposal", None),
            ("Pipes", Money.of("1000", "USD"), "prospecting", "u-bo"),
        ]:
            uow.opportunities.open(
                name, amount=amount, close_date=date(2026, 3, 31), stage=stage,
                owner_id=owner,
            )  # fmt: skip
        for account, amount in ((acme, "700"), (globex, "300")):
            won = uow.opportunities.open(
                "Order", amount=Money.of(amount, "EUR"), close_date=date(2026, 2, 1),
                account_id=account.id,
            )  # fmt: skip
            uow.opportunities.win(won.id)
        uow.campaigns.plan("Pump care week", "email", currency="EUR")
    return f"sqlite:///{path}"


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run a command that must fail: status 2, nothing on stdout, one line on stderr."""
    capsys.readouterr()
    status, out = run(*args)
    err = capsys.readouterr().err
    assert (status, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("crmkit report: ")
    assert "Traceback" not in err
    return err


def test_the_pipeline_prints_an_aligned_table_with_totals(db: str) -> None:
    status, out = run("report", "pipeline", "--db", db, "--rate", "USD:EUR=0.92")
    assert status == 0
    # Prospecting: 1000 EUR + 1000 USD x 0.92 = 1920 EUR, weighted 10 % = 192;
    # proposal: 2000 + 500 = 2500 EUR, weighted 60 % = 1500.
    lines = out.splitlines()
    assert lines[:2] == [
        "stage        count       amount     weighted",
        "-----------  -----  -----------  -----------",
    ]
    assert sorted(lines[2:4]) == [
        "proposal         2  2500.00 EUR  1500.00 EUR",
        "prospecting      2  1920.00 EUR   192.00 EUR",
    ]
    assert lines[4:] == ["total: count 4; amount 4420.00 EUR; weighted 1692.00 EUR"]


def test_the_pipeline_by_owner_shows_the_unowned_as_a_dash(db: str) -> None:
    status, out = run(
        "report", "pipeline", "--db", db, "--rate", "USD:EUR=0.92", "--by", "stage,owner"
    )
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["stage", "owner", "count", "amount", "weighted"]
    unowned = next(line for line in lines if "500.00 EUR" in line)
    assert unowned.split()[:3] == ["proposal", MISSING, "1"]
    # Money is right-aligned: every amount ends in the same column.
    ends = {line.index(" EUR") for line in lines[2:-1]}
    assert len(ends) == 1


def test_the_forecast_rfm_sla_and_campaigns_print_tables(db: str) -> None:
    status, out = run("report", "forecast", "--db", db, "--rate", "USD:EUR=0.92")
    assert status == 0
    assert out.splitlines()[2] == "2026-Q1  closed         2  1000.00 EUR  1000.00 EUR"
    assert out.splitlines()[-1] == (
        "total: closed 1000.00 EUR; commit 0.00 EUR; best case 2500.00 EUR; pipeline 1920.00 EUR"
    )
    status, out = run("report", "rfm", "--db", db)
    assert status == 0
    assert out.splitlines()[0].split()[:3] == ["customer", "id", "recency"]
    assert "total: customers 2; total 1000.00 EUR;" in out
    status, out = run("report", "sla", "--db", db, "--period", "month")
    assert (status, out.splitlines()[0]) == (0, "(no rows)")
    assert "total: met 0; breached 0; running 0; compliance –; without sla 0" in out
    status, out = run("report", "campaigns", "--db", db)
    assert status == 0
    assert "Pump care week" in out.splitlines()[2]


@pytest.mark.parametrize("name", ["pipeline", "forecast", "rfm", "sla", "campaigns"])
def test_json_parses(db: str, name: str) -> None:
    status, out = run("report", name, "--db", db, "--json", "--rate", "USD:EUR=0.92")
    assert status == 0
    data = json.loads(out)
    assert isinstance(data["rows"], list)


def test_the_pipeline_json_carries_exact_amounts(db: str) -> None:
    out = run("report", "pipeline", "--db", db, "--json", "--rate", "USD:EUR=0.92")[1]
    assert json.loads(out)["amount"] == {"amount": "4420.00", "currency": "EUR"}


def test_chart_writes_the_picture(db: str, tmp_path: Path) -> None:
    chart = tmp_path / "funnel.png"
    status, out = run(
        "report", "pipeline", "--db", db, "--rate", "USD:EUR=0.92", "--chart", str(chart)
    )
    assert status == 0
    assert out.endswith(f"chart written to {chart}\n")
    assert chart.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("pipeline", "--db", "nosuch://x"), "url: names no known store"),
        (("pipeline", "--db", "crm.db"), "url: names no known store"),
        (("pipeline", "--currency", "EURO"), "currency"),
        (("pipeline",), "no exchange rate USD->EUR"),
        (("pipeline", "--rate", "USD/EUR=0.9"), "--rate: must look like USD:EUR=0.92"),
        (("pipeline", "--rate", "USD:EUR=abc"), "rate"),
        (("pipeline", "--rate", "USD:EUR=0.9", "--by", "stage,colour"), "by"),
        (("forecast", "--rate", "USD:EUR=0.9", "--period", "week"), "period"),
        (("rfm", "--by", "stage"), "--by: applies to the pipeline report only"),
        (("sla", "--period", "fortnight"), "period"),
        (("campaigns", "--chart", "x.png"), "--chart: the campaigns report has no chart"),
        (("sla", "--chart", "x.svg"), "must have period rows"),
        (("pipeline", "--rate", "USD:EUR=0.9", "--chart", "x.pdf"), "path: must end in"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    db: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expected: str
) -> None:
    name, *rest = args
    db_args = [] if "--db" in rest else ["--db", db]
    assert expected in fails(capsys, "report", name, *db_args, *rest)


def test_a_missing_sqlite_file_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.db"
    err = fails(capsys, "report", "rfm", "--db", f"sqlite:///{missing}")
    assert "no such SQLite file" in err
    assert not missing.exists()


def test_a_file_that_is_not_sqlite_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert "SQLite" in fails(capsys, "report", "rfm", "--db", f"sqlite:///{junk}")


def test_the_table_helpers() -> None:
    assert cell_text(None) == MISSING == "–"
    assert cell_text(Money.of("5", "JPY")) == "5 JPY"
    assert cell_text(datetime(2026, 3, 2, 9, 30, tzinfo=UTC)) == "2026-03-02 09:30"
    text = table([{"name": "a", "amount": Money.of("1", "EUR")}, {"name": "bb", "amount": None}])
    assert text.splitlines() == [
        "name    amount",
        "----  --------",
        "a     1.00 EUR",
        f"bb           {MISSING}",
    ]
    assert table([]) == "(no rows)"
    assert totals(object()) == ""
