"""Writing of output files: atomic CSV (UTF-8 with BOM for Excel), JSON and GeoPackage, and TOML text.

Every writer goes through a temporary file or directory beside the target and an `os.replace`, so a crash, a full
disk or Ctrl-C never leaves a half-written file over an earlier result. `toml_text` renders the metadata files of
region bundles (region.toml, scenario.toml), which are written inside such a staging directory.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from numbers import Integral, Real
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
    """The OutputError for `target`, giving the operating system's reason (of a file inside a staging
    directory too, whose own OutputError is not repeated)."""
    root: OSError = exc
    while isinstance(root, OutputError) and isinstance(root.__cause__, OSError):
        root = root.__cause__
    reason = root.strerror or str(root)
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
    """Move the finished staging directory to `target`, keeping the old one until the new one is in place.

    Should the second move fail or be interrupted (Ctrl-C between the two moves), the old directory is put back;
    an interrupt raised just after the move went through keeps the new one.
    """
    if target.exists():
        retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
        os.replace(target, retired)
        try:
            os.replace(staging, target)
        except BaseException:
            if target.exists():  # the move went through just before the interrupt was raised
                shutil.rmtree(retired, ignore_errors=True)
            else:
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


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TOML_INT_RANGE = (-(2**63), 2**63 - 1)


def toml_text(data: Mapping[str, Any], *, header: str | None = None,
              comments: Mapping[str, str] | None = None) -> str:
    """TOML text of `data`: nested tables of strings, booleans, ints, floats and arrays; `tomllib` reads it back equal.

    Deterministic, so bundles can be compared byte for byte: keys keep their order, each table's own values come
    before its sub-tables, and a table is headed `[a.b]` only when it holds values (or nothing at all). Mappings
    inside arrays become inline tables. `header` opens the text as a comment; `comments` maps dotted key paths
    ("budget.total_yuan") to a comment after that value. Raises TypeError for a value TOML cannot hold, ValueError
    for an int outside 64 bits or a string with a lone surrogate; the message names the key path.
    """
    lines = [f"# {line}".rstrip() for line in (header.splitlines() if header else [])]
    notes = comments or {}

    def emit(path: tuple[str, ...], table: Mapping[str, Any]) -> None:
        values = [(key, value) for key, value in table.items() if not isinstance(value, Mapping)]
        if path and (values or not table):
            lines.extend(["", f"[{'.'.join(_toml_key(part, path) for part in path)}]"])
        elif values:
            lines.append("")
        for key, value in values:
            dotted = (*path, key)
            note = notes.get(".".join(dotted))
            lines.append(f"{_toml_key(key, dotted)} = {_toml_value(value, dotted)}"
                         + (f"  # {' '.join(note.splitlines())}" if note else ""))
        for key, value in table.items():
            if isinstance(value, Mapping):
                emit((*path, key), value)

    emit((), data)
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines) + "\n"


def _toml_key(key: object, path: tuple[str, ...]) -> str:
    """A bare key when TOML allows one, a quoted key otherwise."""
    if not isinstance(key, str):
        raise TypeError(f"TOML key {key!r} under {'.'.join(map(str, path[:-1])) or 'the top level'} is not a string")
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key, path)


def _toml_value(value: object, path: tuple[str, ...]) -> str:
    """TOML text of one value (arrays and inline tables recursively)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Integral):
        integer = int(value)
        if not _TOML_INT_RANGE[0] <= integer <= _TOML_INT_RANGE[1]:
            raise ValueError(f"TOML value {'.'.join(path)} = {integer} does not fit a 64-bit integer")
        return str(integer)
    if isinstance(value, Real):
        number = float(value)
        if math.isnan(number):
            return "nan"
        return repr(number) if math.isfinite(number) else ("inf" if number > 0 else "-inf")
    if isinstance(value, str):
        return _toml_string(value, path)
    if isinstance(value, Mapping):
        items = (f"{_toml_key(k, (*path, k))} = {_toml_value(v, (*path, k))}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item, (*path, str(i))) for i, item in enumerate(value)) + "]"
    raise TypeError(f"TOML value {'.'.join(path)} = {value!r}: a {type(value).__name__} cannot be written to TOML")


def _toml_string(text: str, path: tuple[str, ...]) -> str:
    """A TOML basic string: JSON escaping (valid TOML) plus DEL, which TOML also requires escaped."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"TOML string at {'.'.join(path)} holds a lone surrogate, which UTF-8 cannot encode") from exc
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
