"""Run one benchmark case in a fresh Python process and read back its figures.

Each case runs in its own subprocess so that its peak memory is its own: the parent starts
`python harness.py SPEC_JSON OUT_JSON`, the child calls the case function named in the spec and writes the
figures it returns, plus its peak resident memory, to OUT_JSON. A case that overruns its wall-clock limit is
killed with its whole process group (a CBC child included) and reported as a timeout.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


@dataclass
class Meter:
    """Peak resident memory of one measured section of a case, in MiB.

    `section()` resets the kernel's high-water mark (Linux /proc/self/clear_refs) on entry and reads it on
    exit, so imports and input loading done before it do not count. Where the reset is not possible the
    figure falls back to the process's lifetime peak and `section_isolated` says so.
    """

    baseline_rss_mib: float = 0.0
    section_peak_rss_mib: float = 0.0
    section_isolated: bool = False

    @contextlib.contextmanager
    def section(self) -> Iterator[None]:
        """Measure the peak resident memory of the block."""
        self.section_isolated = _reset_high_water_mark()
        self.baseline_rss_mib = _status_mib("VmRSS")
        try:
            yield
        finally:
            self.section_peak_rss_mib = self.high_water_mib()


    def high_water_mib(self) -> float:
        """The resident-memory high-water mark so far (of the section when isolated), MiB."""
        return _status_mib("VmHWM") if self.section_isolated else process_peak_rss_mib()


def process_peak_rss_mib() -> float:
    """Lifetime peak resident memory of this process (getrusage), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _status_mib(key: str) -> float:
    """A `kB` line of /proc/self/status in MiB (0 when unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _reset_high_water_mark() -> bool:
    """Reset VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class CaseRun:
    """What the parent learns about one case: its figures, or why there are none."""

    outcome: str  # "ok", "error", "timeout"
    figures: dict[str, Any]
    wall_s: float
    message: str = ""


def run_case(case: str, params: dict[str, Any], *, timeout_s: float) -> CaseRun:
    """Run `cases.<case>(params, meter)` in a subprocess with a wall-clock limit of `timeout_s` seconds."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), str(HERE), env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="allocopt-bench-") as tmp:
        out = Path(tmp) / "figures.json"
        spec = json.dumps({"case": case, "params": params})
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), spec, str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=tmp,
        )
        try:
            log, _ = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return CaseRun("timeout", {}, time.perf_counter() - start, f"killed after {timeout_s:g} s")
        wall_s = time.perf_counter() - start
        if child.returncode != 0 or not out.exists():
            tail = log.decode("utf-8", errors="replace").strip().splitlines()[-3:]
            return CaseRun("error", {}, wall_s, " | ".join(tail) or f"exit code {child.returncode}")
        figures = json.loads(out.read_text(encoding="utf-8"))
    return CaseRun("ok", figures, wall_s)


def _main(spec_json: str, out_path: str) -> None:
    """Child side: run the case, add the memory figures and write everything as JSON."""
    spec = json.loads(spec_json)
    cases = importlib.import_module("cases")
    meter = Meter()
    figures = getattr(cases, spec["case"])(spec["params"], meter)
    figures.update(
        section_peak_rss_mib=round(meter.section_peak_rss_mib, 1),
        section_added_mib=round(max(meter.section_peak_rss_mib - meter.baseline_rss_mib, 0.0), 1),
        section_baseline_rss_mib=round(meter.baseline_rss_mib, 1),
        section_isolated=meter.section_isolated,
        process_peak_rss_mib=round(process_peak_rss_mib(), 1),
        load_avg_1min=round(os.getloadavg()[0], 2),
    )
    Path(out_path).write_text(json.dumps(figures), encoding="utf-8")


if __name__ == "__main__":
    _main(sys.argv[1], sys.argv[2])
