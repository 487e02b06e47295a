"""Atomic writing of result files: CSV (UTF-8 with BOM for Excel), JSON and GeoPackage.

Every writer goes through a temporary file or directory beside the target and an `os.replace`, so a crash, a full
disk or Ctrl-C never leaves a half-written file over an earlier result.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from allocopt.errors import OutputError

CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: Excel then opens Chinese text correctly."""


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _open_permissions(path: Path, *, directory: bool) -> None:
    """Give a staged file or directory the permissions a plain create would (tempfile makes them private)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_current_umask())


def _output_error(target: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    return OutputError(
        f"{target}: could not write results ({reason}); choose a writable --out directory with free space. "
        "Earlier results there are unchanged."
    )


@contextmanager
def atomic_output_dir(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces `out_dir` only when the block finishes without error.

    On any exception (including KeyboardInterrupt) the temporary directory is removed and `out_dir`, with whatever
    earlier results it held, is left untouched.
    """
    target = Path(out_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        _open_permissions(staging, directory=True)
    except OSError as exc:
        raise _output_error(target, exc) from exc
    try:
        yield staging
        _swap_in(staging, target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _output_error(target, exc) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, target: Path) -> None:
    """Move the finished staging directory to `target`, keeping the old one until the new one is in place."""
    if target.exists():
        retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
        os.replace(target, retired)
        try:
            os.replace(staging, target)
        except OSError:
            os.replace(retired, target)
            raise
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(staging, target)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` that replaces it only when the block finishes without error."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.stem}.partial-", suffix=target.suffix, dir=target.parent)
        os.close(handle)
        _open_permissions(Path(name), directory=False)
    except OSError as exc:
        raise _output_error(target, exc) from exc
    staging = Path(name)
    try:
        yield staging
        os.replace(staging, target)
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise _output_error(target, exc) from exc
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write `table` as CSV in UTF-8 with BOM, without the index."""
    with atomic_file(path) as staging:
        table.to_csv(staging, index=False, encoding=CSV_ENCODING)
    return Path(path)


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write `data` as indented UTF-8 JSON; NaN and infinity are refused (use None)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with atomic_file(path) as staging:
        staging.write_text(text, encoding="utf-8")
    return Path(path)


def write_geopackage(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write each GeoDataFrame as a named layer of one GeoPackage (an empty layer is written with its columns)."""
    if not layers:
        raise ValueError("write_geopackage needs at least one layer")
    with atomic_file(path) as staging:
        staging.unlink()
        for name, layer in layers.items():
            layer.to_file(staging, layer=name, driver="GPKG", engine="pyogrio")
    return Path(path)
