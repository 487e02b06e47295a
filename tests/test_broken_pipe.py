"""A reader that closes the pipe early (`allocopt regions | head -1`) ends the command quietly with exit code 141,
in real processes: click's test runner has no pipe to close."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from allocopt import solve
from allocopt._clitools import EXIT_BROKEN_PIPE


def _piped(*args: str, cwd: Path) -> subprocess.Popen[bytes]:
    """`allocopt ARGS` with stdout buffered as in a planner's shell: with PYTHONUNBUFFERED, Python drops the rest of
    a write the closing pipe cut short without an error, so nothing would be left to fail."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    env["PYTHONPATH"] = str(Path(solve.__file__).resolve().parents[1])
    return subprocess.Popen([sys.executable, "-m", "allocopt.cli", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_a_reader_gone_before_any_output_is_a_quiet_exit(tmp_path: Path) -> None:
    with _piped("regions", cwd=tmp_path) as child:  # closes the pipes at the end
        assert child.stdout is not None and child.stderr is not None
        child.stdout.close()  # the only reader: the child's first write meets a closed pipe
        err = child.stderr.read().decode()
        assert child.wait(timeout=120) == EXIT_BROKEN_PIPE, err
    assert err == ""


def test_a_reader_that_stops_after_one_line_is_a_quiet_exit(tmp_path: Path) -> None:
    """Output far larger than a pipe's buffer, so the child is still writing when the reader leaves (head -1)."""
    costs = tmp_path / "costs.csv"
    rows = [f"village-{i},{site},{(i * 7 + j) % 50 + 1}" for i in range(4000) for j, site in enumerate(("a", "b"))]
    costs.write_text("demand,site,cost\n" + "\n".join(rows) + "\n")
    with _piped("locate", "pmedian", "--costs", str(costs), "-p", "1", "--format", "json", cwd=tmp_path) as child:
        assert child.stdout is not None and child.stderr is not None
        assert child.stdout.readline().decode() == "{\n"
        child.stdout.close()
        err = child.stderr.read().decode()
        assert child.wait(timeout=120) == EXIT_BROKEN_PIPE, err
    assert err == ""


def test_a_reader_that_reads_everything_gets_it_all(tmp_path: Path) -> None:
    """The flush that catches a closed pipe loses nothing when the pipe stays open."""
    child = _piped("regions", cwd=tmp_path)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert b"valley-county" in out and out.endswith(b"\n")

