"""`allocopt generate-region` and `allocopt build-region`: the commands that write a region bundle, a synthetic
one or one built from planners' files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from allocopt._clitools import column_map, echo_json, handle_errors, terminal_text


@click.command("generate-region")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--townships", type=click.IntRange(min=1), required=True, help="Number of townships.")
@click.option("--villages", type=click.IntRange(min=1), required=True, help="Number of villages (demand points).")
@click.option("--seed", type=int, required=True, help="Random seed; the same arguments give the same region.")
@click.option("--name", default=None, help="Region name (default: the output directory's name).")
@click.option("--population", type=click.IntRange(min=1), default=None,
              help="Total residents (default: Lushui's 2020 census count, 203,977 for 10 townships, scaled "
                   "with --townships).")
@click.option("--area-km2", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Total area in km2 (default: 3,100 for 10 townships, scaled with --townships).")
@click.option("--candidates", type=click.IntRange(min=0), default=None, help="Candidate sites for new facilities.")
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier bundle in OUT_DIR, or write beside other files (which are kept).")
@handle_errors
def generate_region_command(out_dir: Path, townships: int, villages: int, seed: int, name: str | None,
                            population: int | None, area_km2: float | None, candidates: int | None,
                            overwrite: bool) -> None:
    """Generate a synthetic mountainous region bundle (seeded): townships, villages, roads, facilities.

    Geometry and facilities are synthetic; only the scale is calibrated on a real county. Sizes up to a
    prefecture-level city (~100 townships, 5,000 villages) take seconds.

    Example: allocopt generate-region --townships 100 --villages 5000 --seed 1 city/
    """
    from allocopt.export import REGION_KIND, check_output_dir
    from allocopt.generate import generate_region, write_region

    check_output_dir(out_dir, kind=REGION_KIND, overwrite=overwrite, replace_earlier=False)
    options: dict[str, Any] = {"name": name or out_dir.name, "candidates": candidates}
    if population is not None:
        options["population"] = population
    if area_km2 is not None:
        options["area_km2"] = area_km2
    generated = generate_region(townships=townships, villages=villages, seed=seed, **options)
    path = write_region(generated, out_dir, overwrite=overwrite)
    counties = int((generated.facilities["hospital_kind"] == "general").sum())
    click.echo(f"Wrote synthetic region {generated.name!r} to {path}: {townships} townships in {counties} "
               f"count{'y' if counties == 1 else 'ies'}, {int(generated.demand['population'].sum()):,} residents")


@click.command("build-region")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--roads", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="Roads: an OSM .osm.pbf extract or a line layer with a road_class column.")
@click.option("--townships", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="Township polygons (code, name and, unless --population is given, population).")
@click.option("--facilities", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="Facilities: a point layer, or CSV/XLSX with coordinate columns (lon/lat, longitude/latitude, "
                   "lng, x/y or 经度/纬度 are recognised; map others with --map lon=COLUMN --map lat=COLUMN).")
@click.option("--population", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Population points, a polygon grid or a GeoTIFF raster, apportioned to demand points.")
@click.option("--candidates", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Candidate sites for new facilities (id, name, open_cost_yuan).")
@click.option("--hazards", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Hazard zones (points or polygons: landslides, floods) that closure scenarios close roads near.")
@click.option("--ems", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="120 ambulance stations (id, name, ambulances, candidate): a point layer or CSV/XLSX with "
                   "coordinates.")
@click.option("--source-crs", default=None,
              help="CRS of inputs that declare none: wgs84, cgcs2000, gcj02 (web-map offset) or EPSG:xxxx.")
@click.option("--map", "mappings", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD from a differently named COLUMN (repeatable; one column may fill several fields); "
                   "INPUT.FIELD=COLUMN for one input.")
@click.option("--name", default=None, help="Region name (default: OUT_DIR's name).")
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier bundle in OUT_DIR, or write beside other files (which are kept).")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def build_region_command(out_dir: Path, roads: Path, townships: Path, facilities: Path, population: Path | None,
                         candidates: Path | None, hazards: Path | None, ems: Path | None,
                         source_crs: str | None, mappings: tuple[str, ...],
                         name: str | None, overwrite: bool, output_format: str) -> None:
    """Build a region bundle from planners' files: OSM roads, township polygons, facility lists, population.

    Example: allocopt build-region county/ --roads county.osm.pbf --townships townships.shp
    --facilities facilities.xlsx --map level=医院等级 --map gps=全科医生数 --source-crs gcj02
    """
    from allocopt.build import build_region

    report = build_region(
        out_dir, roads=roads, townships=townships, facilities=facilities, population=population,
        candidates=candidates, hazards=hazards, ems=ems, source_crs=source_crs, column_map=column_map(mappings),
        name=name, overwrite=overwrite,
    )
    if output_format == "json":
        echo_json(report.to_dict())
        return
    click.echo(f"Wrote region {report.name!r} to {report.out_dir} (CRS {report.crs}).")
    click.echo(f"  population read {report.population_read:,.0f}, assigned {report.population_assigned:,.0f}, "
               f"outside every township {report.population_outside:,.0f}")
    for note in report.notes:
        click.echo(f"  {note}")
    for warning in report.warnings:
        click.echo(f"Warning: {terminal_text(warning)}", err=True)
