"""Every script under examples/ runs and prints what it promises."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


def test_there_are_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "example.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "an example should show its result"
    assert "Traceback" not in result.stderr


def _output(name: str, tmp_path: Path) -> str:
    """What ``examples/<name>`` prints, run on a fresh file in ``tmp_path``."""
    script = Path(__file__).parent.parent / "examples" / name
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "example.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def test_quickstart_shows_the_timeline(tmp_path: Path) -> None:
    lines = _output("quickstart.py", tmp_path).strip().splitlines()
    # Newest first: the planned task, then the call, consent, link, creations.
    assert "task planned: Send the price list" in lines[0]
    assert "call: Intro call" in lines[1]
    assert lines[-1].endswith("account ACME GmbH created")


def test_rep_day_shows_the_morning(tmp_path: Path) -> None:
    out = _output("rep_day.py", tmp_path)
    lines = [line.strip() for line in out.strip().splitlines()]
    assert lines[1] == "Bob Berg   score 25.0000  (call_overdue, sla_at_risk; best Tue 10:00 CET)"
    assert "Dana Diaz  score 5.0000  (call_due; best Tue 10:00 EST)" in lines
    assert "Follow up on the pump quote: done, connected, 12 min" in lines
    assert any(line.endswith("by in_reply_to (rule thread)") for line in lines)
    assert "queue now: Dana Diaz; at 14:30: Bob Berg (sla_breached), Cleo Chen (task_due)," in out
    week = "Tue 10 Mar 10:00 CET  rate 0.8684  connected 4 of 4 times on Tuesdays 10:00–11:00"
    assert week in lines
    assert lines[-1] == "contact Cleo Chen (score 4)"
