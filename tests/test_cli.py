"""The crmkit command: demo and diagram."""

import io
from pathlib import Path

import pytest

from crmkit.cli import LIFECYCLES, main


def run(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_diagram_prints_the_lifecycle_as_mermaid(name: str) -> None:
    status, out = run("diagram", name)
    assert status == 0
    assert out.strip() == LIFECYCLES[name].to_mermaid()


def test_diagram_refuses_an_unknown_name() -> None:
    with pytest.raises(SystemExit) as exit_info:
        run("diagram", "nope")
    assert exit_info.value.code == 2


def test_demo_builds_a_company_and_prints_the_view(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    status, out = run("demo", "--db", str(db))
    assert status == 0
    assert db.exists()
    assert "360-degree view of ACME Maschinenbau GmbH" in out
    assert "Bob Berg" in out
    assert "marketing email: withdrawn" in out
    after = out.split("Timeline (newest first)")[1].splitlines()
    timeline = [line for line in after if line.startswith("  20")]
    assert "opted out of marketing" in timeline[0]
    assert timeline[-1].endswith("account ACME Maschinenbau GmbH created")
    assert len(timeline) == 12
    marketing = out.split("\nMarketing\n")[1]
    assert "refused: Bob Berg (consent_withdrawn), Cleo Chen (no_consent)" in marketing
    assert "Gina Gross responded on the web: lead new, source campaign" in marketing
    assert "1 lead(s), cost per lead 400.00 EUR" in marketing
    reports = out.split("\nReports")[1].splitlines()
    assert reports[2:5] == [
        "  stage          count        amount     weighted",
        "  -------------  -----  ------------  -----------",
        "  qualification      1  25000.00 EUR  5000.00 EUR",
    ]
    assert "  total: count 1; amount 25000.00 EUR; weighted 5000.00 EUR" in reports
    assert "  campaign 'Pump care week': cost 400.00 EUR, revenue won 0.00 EUR, ROI -1.0000" in (
        reports
    )
    day = out.split("\nA rep's day (see examples/rep_day.py)\n")[1].splitlines()
    assert day[:4] == [
        "  work queue of u-anna:",
        "    Bob Berg: 10.0000 (call_overdue)",
        "    Cleo Chen: 5.0000 (task_due)",
        "  called Bob Berg: connected; queue item done",
    ]


def test_demo_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    assert run("demo", "--db", str(db))[0] == 0
    assert run("demo", "--db", str(db))[0] == 2
    status, out = run("demo", "--db", str(db), "--replace")
    assert status == 0
    assert out.count("contact Bob Berg created") == 1  # the old data was replaced, not added to
