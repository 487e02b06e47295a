"""What loading the command line and the cost-matrix models costs: the libraries they leave unloaded.

`allocopt --help` and `allocopt locate pmedian --help` should answer at once, so the CLI loads a command's
libraries only when the command runs; `allocopt.model.classic` works on cost matrices and needs no geographic
library (as `spopt.locate`). Checked in a fresh interpreter through sys.modules, not by timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
GEOGRAPHIC = ("geopandas", "shapely", "pyproj", "pyogrio", "networkx", "allocopt.regions", "allocopt.network",
              "allocopt.travel")
"""Libraries and modules of the geographic pipeline."""
HEAVY = (*GEOGRAPHIC, "numpy", "pandas", "scipy", "pulp", "highspy", "matplotlib", "dask", "openpyxl",
         "allocopt.workflow", "allocopt.export", "allocopt.model")


def _loaded_after(code: str) -> set[str]:
    """The modules in sys.modules after running `code` in a fresh interpreter with this checkout's sources."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["locate", "pmedian", "--help"], ["optimize", "--help"]])
def test_cli_help_loads_no_heavy_library(argv: list[str]) -> None:
    loaded = _loaded_after(f"from allocopt.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
    assert "allocopt.cli_locate" in loaded  # the test sees what was loaded
    assert not loaded & set(HEAVY), f"--help loaded {sorted(loaded & set(HEAVY))}"


def test_classic_models_load_no_geographic_library() -> None:
    loaded = _loaded_after("import allocopt.model.classic")
    assert "pulp" in loaded and "allocopt.model.classic" in loaded
    assert not loaded & set(GEOGRAPHIC), f"allocopt.model.classic loaded {sorted(loaded & set(GEOGRAPHIC))}"
    assert "allocopt.model.allocation" not in loaded


def test_a_command_loads_what_it_needs() -> None:
    """The deferred names resolve: a command that runs loads the workflow (and finds the region)."""
    loaded = _loaded_after("from allocopt.cli import main\ntry:\n    main(['regions'])\nexcept SystemExit:\n    pass")
    assert "pandas" in loaded and "allocopt.regions" in loaded
