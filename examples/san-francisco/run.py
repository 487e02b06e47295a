"""San Francisco store-siting benchmark through `allocopt locate`: p-median, MCLP, LSCP and p-center.

The cost matrix is spopt's real street-network distance (metres) from 205 census tracts to 16 candidate sites;
demand weights are the tracts' 2000 census population. Each model's JSON answer is written to --out, with
summary.json holding the figures spopt publishes (mean weighted distance, covered residents and tracts).

Usage (from the repository root, with allocopt installed or PYTHONPATH=src):
    python examples/san-francisco/run.py --out results/san-francisco
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from allocopt.export import atomic_output_dir, write_json

HERE = Path(__file__).resolve().parent
DISTANCES = HERE / "data" / "SF_network_distance_candidateStore_16_censusTract_205_new.csv"
TRACTS = HERE / "data" / "SF_demand_205_centroid_uniform_weight.csv"

P = 4
"""Sites to open, as in spopt's tests."""

MCLP_RADIUS_M = 5_000.0
"""Service distance of the MCLP run, as in spopt's tests."""

LSCP_RADIUS_M = 8_000.0
"""Service distance of the LSCP run: the least number of sites putting every tract within 8 km."""

COMMON = ("--costs", str(DISTANCES), "--columns", "DestinationName,name,distance", "--format", "json")
WEIGHTED = ("--weights", str(TRACTS), "--weight-columns", "NAME,POP2000")

RUNS: dict[str, tuple[str, ...]] = {
    "pmedian": ("pmedian", *COMMON, *WEIGHTED, "-p", str(P)),
    "mclp": ("mclp", *COMMON, *WEIGHTED, "-p", str(P), "--radius", f"{MCLP_RADIUS_M:g}"),
    "lscp": ("lscp", *COMMON, "--radius", f"{LSCP_RADIUS_M:g}"),
    "pcenter": ("pcenter", *COMMON, "-p", str(P)),
}


def locate(args: tuple[str, ...]) -> dict[str, Any]:
    """Run `allocopt locate ARGS` with this interpreter, echo the command and return its JSON answer."""
    shown = " ".join(arg if arg not in (str(DISTANCES), str(TRACTS)) else Path(arg).name for arg in args)
    print(f"$ allocopt locate {shown}", flush=True)
    done = subprocess.run([sys.executable, "-m", "allocopt.cli", "locate", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"allocopt locate {args[0]} failed (exit {done.returncode}): {done.stderr.strip()}")
    return json.loads(done.stdout)


def summarize(answers: dict[str, dict[str, Any]], population: pd.Series) -> dict[str, Any]:
    """The published figures of each run, from the answers and the tract populations (indexed by NAME)."""
    total = float(population.sum())
    pmedian, mclp, lscp, pcenter = (answers[m] for m in ("pmedian", "mclp", "lscp", "pcenter"))
    return {
        "tracts": len(population),
        "residents": total,
        "pmedian": {"p": P, "sites": sorted(pmedian["sites"]), "status": pmedian["status"],
                    "weighted_distance_m": pmedian["objective"],
                    "mean_weighted_distance_m": pmedian["objective"] / total},
        "mclp": {"p": P, "radius_m": MCLP_RADIUS_M, "sites": sorted(mclp["sites"]), "status": mclp["status"],
                 "covered_residents": mclp["objective"], "covered_tracts": len(mclp["covered"]),
                 "uncovered_tracts": len(population) - len(mclp["covered"]),
                 "covered_share_of_tracts": len(mclp["covered"]) / len(population)},
        "lscp": {"radius_m": LSCP_RADIUS_M, "sites": sorted(lscp["sites"]), "status": lscp["status"],
                 "sites_needed": len(lscp["sites"])},
        "pcenter": {"p": P, "sites": sorted(pcenter["sites"]), "status": pcenter["status"],
                    "largest_distance_m": pcenter["objective"]},
    }


def main(argv: list[str] | None = None) -> None:
    """Run the four models and write their answers and summary.json into --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results") / "san-francisco", help="output directory")
    out = parser.parse_args(argv).out

    answers = {model: locate(args) for model, args in RUNS.items()}
    population = pd.read_csv(TRACTS).set_index("NAME")["POP2000"]
    summary = summarize(answers, population)
    with atomic_output_dir(out, kind="example") as staging:
        for model, answer in answers.items():
            write_json(answer, staging / f"{model}.json")
        write_json(summary, staging / "summary.json")
    pm, mc, ls, pc = (summary[m] for m in ("pmedian", "mclp", "lscp", "pcenter"))
    print(f"p-median p={P}: {', '.join(pm['sites'])}; mean weighted distance {pm['mean_weighted_distance_m']:.4f} m")
    print(f"MCLP p={P}, {MCLP_RADIUS_M:g} m: {', '.join(mc['sites'])}; {mc['covered_residents']:,.0f} residents, "
          f"{mc['covered_tracts']} of {summary['tracts']} tracts covered")
    print(f"LSCP {LSCP_RADIUS_M:g} m: {ls['sites_needed']} sites ({', '.join(ls['sites'])})")
    print(f"p-center p={P}: {', '.join(pc['sites'])}; farthest tract {pc['largest_distance_m']:,.1f} m away")
    print(f"Results written to {out}")


if __name__ == "__main__":
    main()
