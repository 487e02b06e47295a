"""The documentation cannot drift: every command and scenario in README.md and docs/*.md runs as shown.

Shell commands are read from the fenced bash (or unlabelled) blocks, scenarios from the fenced toml blocks. Each
document's commands run in order in a temporary directory (so `report plan/` follows `optimize --out plan/`),
through click's CliRunner, and must exit 0 unless their comment says `exits N`. The files a document presents as
the reader's own (a cost matrix, a province of bundles, a facility spreadsheet) are made here first (USER_FILES).
The cheap commands also run in the default test run; whole documents, and every scenario solved, are slow tests.
"""

from __future__ import annotations

import re
import shlex
import shutil
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from allocopt.cli import main
from allocopt.generate import generate_region, write_region
from allocopt.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BUILD_DATA = REPO / "tests" / "data" / "build"
TINY_REGION = REPO / "tests" / "data" / "tiny-region"

CHEAP_COMMANDS = {"regions", "validate", "access", "consortium", "locate", "cover"}
"""Commands that take a second or two on the default region; the others (solves, reports, batches) are slow."""

DOCUMENTED_SCHEDULER = "tcp://127.0.0.1:8786"
"""The cluster address the docs show; the test starts a cluster of its own and runs the command against it."""

_FENCE = re.compile(r"^```(\w*)\s*\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class DocCommand:
    """One `allocopt` command of a document, with where it is and the exit code its comment promises."""

    doc: str
    line: int
    args: tuple[str, ...]
    expected_exit: int

    @property
    def name(self) -> str:
        return self.args[0] if self.args else ""

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: allocopt {shlex.join(self.args)}"


def fenced_blocks(path: Path, languages: set[str]) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each fenced block of `path` whose language is in `languages`."""
    text = path.read_text(encoding="utf-8")
    for match in _FENCE.finditer(text):
        if match.group(1) in languages:
            yield text.count("\n", 0, match.start(2)) + 1, match.group(2)


def doc_commands(path: Path) -> list[DocCommand]:
    """Every `allocopt ...` command of the shell blocks of `path` (`\\` continues a line, `&&` chains commands)."""
    commands = []
    for start, block in fenced_blocks(path, {"bash", "sh", "shell", ""}):
        pending, first_line = "", start
        for offset, raw in enumerate(block.splitlines()):
            code, _, comment = raw.partition("#")
            if not pending:
                first_line = start + offset
            if code.rstrip().endswith("\\"):
                pending += code.rstrip()[:-1] + " "
                continue
            line, pending = pending + code, ""
            if not re.search(r"\ballocopt\b", line):
                continue
            exits = re.search(r"exits (\d+)", comment)
            for part in " ".join(shlex.split(line)).split(" && "):
                words = shlex.split(part)
                if words and words[0] == "allocopt":
                    commands.append(DocCommand(path.name, first_line, tuple(words[1:]),
                                               int(exits.group(1)) if exits else 0))
    return commands


def doc_scenarios(path: Path) -> list[tuple[str, int, str]]:
    """(document, line, text) of each TOML scenario of `path` (a region.toml, with its [region] table, is not one)."""
    return [(path.name, line, text) for line, text in fenced_blocks(path, {"toml"}) if not _is_region_toml(text)]


def _is_region_toml(text: str) -> bool:
    return re.search(r"^\[region\]", text, re.MULTILINE) is not None


ALL_COMMANDS = [command for doc in DOCS for command in doc_commands(doc)]
ALL_SCENARIOS = [scenario for doc in DOCS for scenario in doc_scenarios(doc)]


def _write_cost_files(folder: Path) -> None:
    """costs.csv and minutes.csv (long: demand,site,cost) for 12 demand points and 6 sites, and hospitals.csv."""
    rows = [{"demand": f"d{d}", "site": f"s{s}", "cost": float(abs(2 * d - 4 * s) + 3)}
            for d in range(12) for s in range(6)]
    pd.DataFrame(rows).to_csv(folder / "costs.csv", index=False)
    pd.DataFrame(rows).to_csv(folder / "minutes.csv", index=False)
    pd.DataFrame({"site": ["s0", "s3"], "icu_beds": [4, 2]}).to_csv(folder / "hospitals.csv", index=False)


def _write_build_inputs(folder: Path) -> None:
    """county.osm.pbf (a real OSM extract: central Helsinki), townships.shp over it, and facilities.xlsx whose
    level column is headed 医院等级, as the README's build-region example reads them."""
    shutil.copy(BUILD_DATA / "Helsinki.osm.pbf", folder / "county.osm.pbf")
    townships = gpd.GeoDataFrame(
        {"code": ["T1", "T2"], "name": ["West", "East"], "population": [30_000, 20_000]},
        geometry=[box(24.92, 60.16, 24.945, 60.18), box(24.945, 60.16, 24.97, 60.18)], crs="EPSG:4326",
    )
    townships.to_file(folder / "townships.shp")
    pd.DataFrame({
        "id": ["h1", "h2", "h3"], "name": ["Kamppi", "Kruununhaka", "Punavuori"],
        "医院等级": ["社区卫生服务中心", "县人民医院", "乡镇卫生院"],
        "longitude": [24.933, 24.955, 24.940], "latitude": [60.169, 60.172, 60.163],
    }).to_excel(folder / "facilities.xlsx", index=False)


def _write_regions(folder: Path) -> None:
    """province/ (two generated counties), county-a/ and county-b/, and province.toml, a scenario for them."""
    for name, seed in (("county-a", 1), ("county-b", 2)):
        generated = generate_region(townships=3, villages=30, seed=seed, name=name)
        write_region(generated, folder / "province" / name)
        shutil.copytree(folder / "province" / name, folder / name)
    (folder / "province.toml").write_text("[budget]\ntotal_yuan = 5_000_000\n", encoding="utf-8")


def _write_results(folder: Path) -> None:
    """plan-a/ and plan-b/: two earlier results (of the tiny test region) for `compare`."""
    for name, budget in (("plan-a", "0"), ("plan-b", "5000000")):
        outcome = CliRunner().invoke(main, ["optimize", str(TINY_REGION), "--budget", budget, "--out",
                                            str(folder / name)])
        assert outcome.exit_code == 0, outcome.output


def _write_closures(folder: Path) -> None:
    """closures.toml: the default region's scenario without its [ems] table (its last; --robust plans no ambulances
    yet) and with the first two [[closures]] tables of docs/closures.md."""
    scenario = (REPO / "data" / "regions" / "valley-county" / "scenario.toml").read_text(encoding="utf-8")
    scenario = scenario.split("\n[ems]")[0] + "\n"
    _, shown = next(fenced_blocks(REPO / "docs" / "closures.md", {"toml"}))
    tables = shown.split("[[closures]]")[1:3]
    (folder / "closures.toml").write_text(scenario + "".join(f"\n[[closures]]{t}" for t in tables), encoding="utf-8")


USER_FILES: dict[str, Callable[[Path], None]] = {
    "costs.csv": _write_cost_files, "minutes.csv": _write_cost_files, "hospitals.csv": _write_cost_files,
    "county.osm.pbf": _write_build_inputs, "province/": _write_regions, "county-a/": _write_regions,
    "plan-a/": _write_results, "closures.toml": _write_closures,
}
"""Files the documents present as the reader's own, and what makes each here."""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty working directory with its own travel-time cache; every output lands under it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOCOPT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "docs-cache"))
    return tmp_path


def prepare_user_files(commands: list[DocCommand], folder: Path) -> None:
    """Make the files of USER_FILES that `commands` name, each maker once."""
    words = {word.rstrip("/") for command in commands for word in command.args}
    makers = {maker for name, maker in USER_FILES.items() if name.rstrip("/") in words}
    for maker in makers:
        maker(folder)


def run_doc_command(command: DocCommand, *, scheduler: str | None = None) -> None:
    """Run `command` in the current directory and check its exit code against the one documented."""
    args = [scheduler if scheduler and arg == DOCUMENTED_SCHEDULER else arg for arg in command.args]
    outcome = CliRunner().invoke(main, args)
    assert outcome.exit_code == command.expected_exit, (
        f"{command} exited {outcome.exit_code}, the document says {command.expected_exit}:\n{outcome.output}"
    )


def test_the_documents_show_commands_and_scenarios() -> None:
    names = {command.name for command in ALL_COMMANDS}
    assert {"optimize", "access", "sweep", "compare", "batch", "build-region", "cover"} <= names
    assert len(ALL_SCENARIOS) >= 2
    unknown = [str(c) for c in ALL_COMMANDS if c.name not in main.commands]
    assert not unknown, f"commands the CLI does not have: {unknown}"


def test_continued_and_chained_lines_are_read_whole(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text("```bash\npip install . && allocopt optimize   # plan\nallocopt cover --costs a.csv \\\n"
                   "    --budget 3  # exits 3: no\n```\n```\nallocopt regions\n```\n", encoding="utf-8")
    assert [(c.line, c.args, c.expected_exit) for c in doc_commands(doc)] == [
        (2, ("optimize",), 0), (3, ("cover", "--costs", "a.csv", "--budget", "3"), 3), (7, ("regions",), 0)]


@pytest.mark.parametrize("command", [c for c in ALL_COMMANDS if c.name in CHEAP_COMMANDS], ids=str)
def test_cheap_documented_command_runs(command: DocCommand, workspace: Path) -> None:
    prepare_user_files([command], workspace)
    run_doc_command(command)


@pytest.fixture(scope="module")
def cluster_address() -> Iterator[str]:
    """A local Dask cluster on loopback, standing in for the one the docs start with `dask scheduler`."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", scheduler_port=0, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.mark.slow
@pytest.mark.parametrize("doc", [doc for doc in DOCS if doc_commands(doc)], ids=lambda doc: doc.name)
def test_every_documented_command_runs_in_order(doc: Path, workspace: Path, request: pytest.FixtureRequest) -> None:
    commands = doc_commands(doc)
    prepare_user_files(commands, workspace)
    needs_cluster = any(DOCUMENTED_SCHEDULER in command.args for command in commands)
    scheduler = request.getfixturevalue("cluster_address") if needs_cluster else None
    for command in commands:
        run_doc_command(command, scheduler=scheduler)


@pytest.mark.parametrize(("doc", "line", "text"), ALL_SCENARIOS,
                         ids=[f"{doc}:{line}" for doc, line, _ in ALL_SCENARIOS])
def test_documented_scenario_loads(doc: str, line: int, text: str, tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    load_scenario(path)


def test_documented_region_toml_is_toml_with_the_layers_a_bundle_needs() -> None:
    shown = [text for doc in DOCS for _, text in fenced_blocks(doc, {"toml"}) if _is_region_toml(text)]
    assert shown, "docs/architecture.md shows a region.toml"
    for text in shown:
        meta = tomllib.loads(text)
        assert {"name", "crs"} <= set(meta["region"]) and "townships" in meta["layers"]


@pytest.mark.slow
@pytest.mark.parametrize(("doc", "line", "text"), ALL_SCENARIOS,
                         ids=[f"{doc}:{line}" for doc, line, _ in ALL_SCENARIOS])
def test_documented_scenario_solves_on_the_default_region(doc: str, line: int, text: str, workspace: Path) -> None:
    (workspace / "scenario.toml").write_text(text, encoding="utf-8")
    outcome = CliRunner().invoke(main, ["optimize", "--scenario", "scenario.toml", "--out", "plan"])
    assert outcome.exit_code == 0, f"{doc}:{line}: the scenario exited {outcome.exit_code}:\n{outcome.output}"


def test_every_command_is_in_the_readme_and_its_help_has_an_example() -> None:
    readme = {command.name for command in doc_commands(REPO / "README.md")}
    for name, command in main.commands.items():
        assert name in readme, f"allocopt {name} is not shown in README.md"
        with click.Context(command, info_name=name) as context:
            help_text = command.get_help(context)
        assert f"Example: allocopt {name}" in help_text, f"allocopt {name} --help shows no example"


def test_readme_says_what_the_browser_test_needs() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "chromium" in readme and "-rs" in readme

