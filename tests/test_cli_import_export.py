"""``crmkit import`` and ``crmkit export``: reports, exit codes, progress, and a real process."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from crmkit._cli_csv import ProgressBar
from crmkit.cli import main

HEADER = "last_name,email,street,city,country\n"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'crm.db'}"


def _file(tmp_path: Path, rows: list[str], name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows))
    return path


def test_an_import_then_an_export_to_stdout(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [f"Person{i},p{i}@example.com,Main {i},Berlin,DE" for i in range(1_200)]
    path = _file(tmp_path, rows)
    assert main(["import", str(path), "--kind", "contact", "--db", db, "--batch", "100"]) == 0
    out, err = capsys.readouterr()
    assert "1200 rows read in this run; 1200 created, 0 updated, 0 skipped, 0 rejected" in out
    assert err.splitlines()[-1].startswith("[" + "#" * 30 + "] 100%  1,200 rows  ")
    assert err.rstrip().endswith("rows/s")
    assert main(["export", "--kind", "contact", "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("id,first_name,last_name,title,email,")
    assert len(lines) == 1_201
    assert ",Person7,,p7@example.com,,Main 7,Berlin,,,DE," in "\n".join(lines)


def test_a_dry_run_prints_a_table_of_the_bad_rows_and_exits_1(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "last_name,email,country,time_zone\nBerg,b@example.com,,\nLund,nope,,\n,x@example.com,,"
        "\nMoe,,Norway,Mars/Base\n"
    )
    assert main(["import", str(path), "--kind", "contact", "--db", db, "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "row  column     value        rule",
        "---  ---------  -----------  ----",
        "3    email      -            must be an email address (local@domain)",
        "4    last_name  -            is required",
        "5    country    'Norway'     must be an ISO 3166-1 alpha-2 code",
        "5    time_zone  'Mars/Base'  must be a known IANA time zone name",
        "5    street     -            is required with an address",
        "5    city       -            is required with an address",
        "dry run: 4 rows read, 3 bad; nothing was written",
    ]
    assert main(["export", "--kind", "contact", "--db", db]) == 0
    assert capsys.readouterr().out.count("\n") == 1  # the header only: nothing was written


def test_resuming_with_an_import_id_and_duplicates(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(tmp_path, ["Berg,b@example.com,,,", "Lund,l@example.com,,,"])
    args = ["import", str(path), "--kind", "contact", "--db", db, "--import-id", "imp-1"]
    assert main(args) == 0
    assert main(args) == 0
    assert "import imp-1: 0 rows read in this run; 2 created" in capsys.readouterr().out
    assert main([*args[:-2], "--on-duplicate", "skip"]) == 0
    assert "0 created, 0 updated, 2 skipped" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "contact"], "No such file or directory"),
        (["--kind", "contact", "--batch", "0"], "batch: must be 1 to 10000"),
        (["--kind", "opportunity"], "header: needs a name column"),
        (["--kind", "contact", "--encoding", "klingon"], "encoding: must name a known"),
    ],
)
def test_usage_problems_exit_2_with_one_line(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = _file(tmp_path, ["Berg,b@example.com,,,"])
    target = str(tmp_path / "missing.csv") if "No such" in message else str(path)
    assert main(["import", target, "--db", db, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crmkit import: ")
    assert message in err


def test_a_file_in_another_encoding_exits_2_naming_the_byte(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("last_name\nMüller\n".encode("cp1252"))
    assert main(["import", str(path), "--kind", "contact", "--db", db]) == 2
    assert "byte 0xfc at offset 11 (line 2)" in capsys.readouterr().err
    extra = ["--encoding", "cp1252"]
    assert main(["import", str(path), "--kind", "contact", "--db", db, *extra]) == 0


def test_export_to_a_file_and_from_a_missing_database(
    tmp_path: Path, db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["import", str(_file(tmp_path, ["Berg,,,,"])), "--kind", "contact", "--db", db]) == 0
    )
    out = tmp_path / "out.csv"
    assert main(["export", "--kind", "contact", "--db", db, "--out", str(out)]) == 0
    assert out.read_bytes().count(b"\r\n") == 2
    assert "1 contact rows written to" in capsys.readouterr().err
    missing = f"sqlite:///{tmp_path / 'nope.db'}"
    assert main(["export", "--kind", "contact", "--db", missing]) == 2
    assert "no such SQLite file" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--kind", "ticket"])
    assert exit_info.value.code == 2


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_redraws_on_a_terminal_and_prints_lines_elsewhere() -> None:
    ticks = iter([0.0, 1.0, 2.0, 3.0, 4.0])
    tty = _Tty()
    bar = ProgressBar(tty, 1_000, iter([250, 500, 1_000]).__next__, clock=lambda: next(ticks))
    bar(100)
    bar(200)
    bar.finish()
    assert tty.getvalue().split("\r")[1:] == [
        "[#######.......................]  25%  100 rows  100 rows/s",
        "[###############...............]  50%  200 rows  100 rows/s",
        "[##############################] 100%  200 rows  67 rows/s\n",
    ]
    times = iter([0.0, 1.0, 6.0, 7.0, 8.0])
    log = io.StringIO()
    bar = ProgressBar(log, 100, lambda: 0, every=5.0, clock=lambda: next(times))
    for rows in (10, 20, 30):
        bar(rows)
    bar.finish()
    assert log.getvalue().splitlines() == [
        "[..............................]   0%  20 rows  3 rows/s",
        "[##############################] 100%  30 rows  4 rows/s",
    ]


def test_the_installed_command_runs_in_its_own_process(tmp_path: Path, db: str) -> None:
    path = _file(tmp_path, ["Berg,b@example.com,,,", "Lund,nope,,,"])
    command = [sys.executable, "-c", "import sys; from crmkit.cli import main; sys.exit(main())"]
    done = subprocess.run(
        [*command, "import", str(path), "--kind", "contact", "--db", db],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "3    email   -      must be an email address (local@domain)" in done.stdout
    assert "1 created" in done.stdout
    assert "rows/s" in done.stderr
