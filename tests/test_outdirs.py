"""Output folders through the CLI: every writing command keeps the files it did not write, refuses its inputs, a
folder holding them and the current directory as --out, and writes its whole result (report included) in one swap.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result

import result_fixture as fx
from allocopt import report, workflow
from allocopt.cli import main
from allocopt.export import MANIFEST_FILE, read_manifest
from test_build import CHINESE_MAP, write_facilities, write_roads, write_townships

FOREIGN = {"budget-2025.docx": b"the planner's own document", "notes/minutes.txt": "会议纪要".encode()}

Arguments = Callable[[Path, Path], list[str]]
"""(work folder, out) -> the command's arguments writing to out; inputs are made inside the work folder."""


def _tiny_copy(work: Path, tiny: Path) -> Path:
    copy = work / "vc"
    if not copy.exists():
        shutil.copytree(tiny, copy)
    return copy


def _result_dir(work: Path) -> Path:
    result = work / "results" / "plan-a"
    if not result.exists():
        fx.write_result_dir(result, frontier=False)
    return result


def _build_inputs(work: Path) -> list[str]:
    inputs = work / "inputs"
    if not inputs.exists():
        inputs.mkdir(parents=True)
        write_townships(inputs / "townships.gpkg")
        write_roads(inputs / "roads.geojson")
        write_facilities(inputs / "facilities.csv")
    return ["--roads", str(inputs / "roads.geojson"), "--townships", str(inputs / "townships.gpkg"),
            "--facilities", str(inputs / "facilities.csv"),
            *(arg for field, column in CHINESE_MAP.items() for arg in ("--map", f"{field}={column}"))]


def _commands(tiny: Path) -> dict[str, tuple[Arguments, str]]:
    """Each writing command: how to run it, and the kind of result it writes."""
    def cache(work: Path) -> list[str]:
        return ["--cache-dir", str(work / "cache")]

    return {
        "optimize": (lambda w, out: ["optimize", str(_tiny_copy(w, tiny)), "--budget", "3000000", *cache(w),
                                     "--out", str(out)], "optimize"),
        "optimize --report": (lambda w, out: ["optimize", str(_tiny_copy(w, tiny)), "--budget", "3000000", *cache(w),
                                              "--report", "--out", str(out)], "optimize"),
        "sweep": (lambda w, out: ["sweep", str(_tiny_copy(w, tiny)), "--budgets", "0,3000000", *cache(w),
                                  "--out", str(out)], "sweep"),
        "access": (lambda w, out: ["access", str(_tiny_copy(w, tiny)), *cache(w), "--out", str(out)], "access"),
        "compare": (lambda w, out: ["compare", str(_result_dir(w)), "--out", str(out)], "compare"),
        "report": (lambda w, out: ["report", str(_result_dir(w)), "--out", str(out)], "report"),
        "batch": (lambda w, out: ["batch", str(_tiny_copy(w, tiny)), *cache(w), "--out", str(out)], "batch"),
        "build-region": (lambda w, out: ["build-region", str(out), *_build_inputs(w)], "region"),
        "generate-region": (lambda w, out: ["generate-region", str(out), "--townships", "2", "--villages", "4",
                                            "--seed", "1"], "region"),
    }


COMMAND_NAMES = ["optimize", "optimize --report", "sweep", "access", "compare", "report", "batch", "build-region",
                 "generate-region"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def commands(tiny_region_path: Path) -> dict[str, tuple[Arguments, str]]:
    return _commands(tiny_region_path)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (relative path -> bytes)."""
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _write(directory: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)


def assert_refused(result: Result, folder: Path | str, *phrases: str) -> None:
    """Exit 5 with one message naming the folder and every phrase, no traceback."""
    assert result.exit_code == 5, (result.exit_code, result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for phrase in (str(folder), *phrases):
        assert phrase in lines[0], (phrase, lines[0])


def assert_complete(out: Path, kind: str) -> None:
    """`out` holds a result of `kind` whose manifest lists exactly the files it has (besides FOREIGN)."""
    manifest = read_manifest(out)
    assert manifest is not None and manifest.kind == kind
    assert set(snapshot(out)) - set(FOREIGN) == {*manifest.files, MANIFEST_FILE}
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_a_file_allocopt_did_not_write_survives_in_out(runner: CliRunner, commands: dict[str, tuple[Arguments, str]],
                                                       tmp_path: Path, name: str) -> None:
    arguments, kind = commands[name]
    out = tmp_path / "mydocs"
    _write(out, FOREIGN)
    refused = runner.invoke(main, arguments(tmp_path, out))
    assert_refused(refused, out, "holds files allocopt did not write", "budget-2025.docx", "--overwrite")
    assert snapshot(out) == FOREIGN

    written = runner.invoke(main, [*arguments(tmp_path, out), "--overwrite"])
    assert written.exit_code == 0, written.output
    assert {k: v for k, v in snapshot(out).items() if k in FOREIGN} == FOREIGN
    assert_complete(out, kind)

    again = runner.invoke(main, [*arguments(tmp_path, out), *(["--overwrite"] if kind == "region" else [])])
    assert again.exit_code == 0, again.output
    assert {k: v for k, v in snapshot(out).items() if k in FOREIGN} == FOREIGN
    assert_complete(out, kind)


def _the_input(name: str, work: Path) -> Path:
    """For each command, an input it reads given as --out (or, for those whose inputs are files, their folder)."""
    if name in ("compare",):
        return _result_dir(work)
    if name == "report":
        return _result_dir(work).parent
    if name == "build-region":
        return work / "inputs"
    return work / "vc"


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]], ids=["plain", "overwrite"])
@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_out_is_an_input_or_holds_one_refused_and_the_input_is_intact(
        runner: CliRunner, commands: dict[str, tuple[Arguments, str]], tiny_region_path: Path, tmp_path: Path,
        name: str, overwrite: list[str]) -> None:
    arguments, _ = commands[name]
    arguments(tmp_path, tmp_path / "unused")  # makes the inputs
    _tiny_copy(tmp_path, tiny_region_path)  # generate-region has no input: the bundle of another run stands in
    target = _the_input(name, tmp_path)
    before = snapshot(target)
    result = runner.invoke(main, [*arguments(tmp_path, target), *overwrite])
    assert_refused(result, target, "is a region bundle" if name == "generate-region" else "input of this run")
    assert snapshot(target) == before
    assert not [p.name for p in target.parent.iterdir() if p.name.startswith(f".{target.name}.")]


def test_out_is_the_input_region_itself(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    region = _tiny_copy(tmp_path, tiny_region_path)
    before = snapshot(region)
    result = runner.invoke(main, ["optimize", str(region), "--out", str(region), "--budget", "3000000",
                                  "--cache-dir", str(tmp_path / "cache")])
    assert_refused(result, region, "is an input of this run", "choose another folder")
    assert snapshot(region) == before
    check = runner.invoke(main, ["validate", str(region)])
    assert check.exit_code == 0, check.output


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_out_is_the_current_directory_refused(runner: CliRunner, commands: dict[str, tuple[Arguments, str]],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    arguments, _ = commands[name]
    here = tmp_path / "here"
    _write(here, FOREIGN)
    arguments(tmp_path, tmp_path / "unused")
    monkeypatch.chdir(here)
    for overwrite in ([], ["--overwrite"]):
        result = runner.invoke(main, [*arguments(tmp_path, Path(".")), *overwrite])
        assert_refused(result, ".", "is the current directory", "folder of their own")
        assert snapshot(here) == FOREIGN
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_output_folder_inside_the_bundle_leaves_the_input_hashes_alone(runner: CliRunner, tiny_region_path: Path,
                                                                          tmp_path: Path) -> None:
    region = _tiny_copy(tmp_path, tiny_region_path)
    hashes = []
    for run in range(2):
        out = region / "results" / f"plan-{run}"
        result = runner.invoke(main, ["optimize", str(region), "--out", str(out), "--budget", "3000000",
                                      "--cache-dir", str(tmp_path / "cache")])
        assert result.exit_code == 0, result.output
        hashes.append(json.loads((out / "summary.json").read_text(encoding="utf-8"))["inputs"]["region_files"])
    assert hashes[0] == hashes[1]
    assert sorted(hashes[0]) == ["facilities.csv", "region.gpkg", "region.toml"]  # the files region.toml declares


def test_optimize_report_is_part_of_the_one_swap(runner: CliRunner, tiny_region_path: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "plan"
    first = runner.invoke(main, ["optimize", str(tiny_region_path), "--out", str(out), "--budget", "3000000",
                                 "--report", "--cache-dir", str(tmp_path / "cache")])
    assert first.exit_code == 0, first.output
    earlier = snapshot(out)
    manifest = read_manifest(out)
    assert manifest is not None and {report.REPORT_FILE, report.WORKBOOK_FILE, "summary.json"} <= set(manifest.files)
    assert str(tmp_path) not in (out / report.REPORT_FILE).read_text(encoding="utf-8")  # no path, staged or final

    def disk_full(*args: Any, **kwargs: Any) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(report, "write_workbook", disk_full)  # the plan is staged, the report fails midway
    failed = runner.invoke(main, ["optimize", str(tiny_region_path), "--out", str(out), "--budget", "1000000",
                                  "--report", "--cache-dir", str(tmp_path / "cache")])
    assert_refused(failed, out, "No space left on device", "Earlier results there are unchanged")
    assert snapshot(out) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "plan"]


def test_report_into_its_result_directory_replaces_only_the_earlier_report(runner: CliRunner, tiny_region_path: Path,
                                                                           tmp_path: Path) -> None:
    out = tmp_path / "plan"
    first = runner.invoke(main, ["optimize", str(tiny_region_path), "--out", str(out), "--budget", "3000000",
                                 "--cache-dir", str(tmp_path / "cache")])
    assert first.exit_code == 0, first.output
    plan = snapshot(out)
    _write(out, FOREIGN)
    for _ in range(2):
        result = runner.invoke(main, ["report", str(out)])
        assert result.exit_code == 0, result.output
        files = snapshot(out)
        assert {k: files[k] for k in (*FOREIGN, *(k for k in plan if k != MANIFEST_FILE))} == {
            **FOREIGN, **{k: v for k, v in plan.items() if k != MANIFEST_FILE}}
        assert_complete(out, workflow.PLAN_KIND)
        assert report.REPORT_FILE in read_manifest(out).files  # type: ignore[union-attr]
    # a page of that name the planner saved over the report (allocopt's manifest no longer claims it)
    ours = [name for name in read_manifest(out).files if name != "report.html"]  # type: ignore[union-attr]
    (out / MANIFEST_FILE).write_text(json.dumps({"kind": "optimize", "files": ours}), encoding="utf-8")
    (out / "report.html").unlink()
    _write(out, {"report.html": b"the planner's own page"})
    clash = runner.invoke(main, ["report", str(out)])
    assert_refused(clash, out, "report.html there was not written by allocopt")
    assert (out / "report.html").read_bytes() == b"the planner's own page"


def test_the_solve_does_not_start_when_out_is_refused(runner: CliRunner, tiny_region_path: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("solved although --out was refused")

    monkeypatch.setattr(workflow, "optimize", never)
    out = tmp_path / "mydocs"
    _write(out, FOREIGN)
    result = runner.invoke(main, ["optimize", str(tiny_region_path), "--out", str(out), "--cache-dir",
                                  str(tmp_path / "cache")])
    assert_refused(result, out, "--overwrite")


def test_kinds_do_not_mix_without_overwrite(runner: CliRunner, tiny_region_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cache = ["--cache-dir", str(tmp_path / "cache")]
    assert runner.invoke(main, ["access", str(tiny_region_path), "--out", str(out), *cache]).exit_code == 0
    access = snapshot(out)
    result = runner.invoke(main, ["optimize", str(tiny_region_path), "--out", str(out), "--budget", "3000000", *cache])
    assert_refused(result, out, "holds an earlier allocopt access result, not a optimize result", "--overwrite")
    assert snapshot(out) == access
    replaced = runner.invoke(main, ["optimize", str(tiny_region_path), "--out", str(out), "--budget", "3000000",
                                    "--overwrite", *cache])
    assert replaced.exit_code == 0, replaced.output
    assert not (out / "access.json").exists() and not (out / "demand.csv").exists()
    assert_complete(out, "optimize")


def summary_matches_workbook(out: Path) -> bool:
    """Whether summary.json and plan.xlsx in `out` come from the same run (same solve time and budget)."""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sheet = openpyxl.load_workbook(out / report.WORKBOOK_FILE, read_only=True)["Summary"]
    figures = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    return bool(figures["solve time"] == summary["solver"]["seconds"]
                and figures["budget (total)"] == summary["budget_yuan"])
