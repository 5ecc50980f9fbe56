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


def test_quickstart_shows_the_timeline(tmp_path: Path) -> None:
    script = Path(__file__).parent.parent / "examples" / "quickstart.py"
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "q.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    # Newest first: the planned task, then the call, consent, link, creations.
    assert "task planned: Send the price list" in lines[0]
    assert "call: Intro call" in lines[1]
    assert lines[-1].endswith("account ACME GmbH created")
