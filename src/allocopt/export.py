"""Writing of output files: result folders that never destroy a user's files, atomic CSV (UTF-8 with BOM for
Excel), JSON, GeoPackage and text files, and TOML text.

Every output folder is staged whole beside its target and swapped in with two renames under a lock
(`atomic_output_dir`), so a crash, a full disk, Ctrl-C or a concurrent run never leaves a half-written or mixed
result. Each result carries a manifest (`MANIFEST_FILE`: its kind, the allocopt version, the files it wrote); a
later result replaces only those files, and any other file in the folder is kept (linked into the new folder).
Folders that are not empty and hold no earlier result of the same kind, region bundles, the current directory
and folders holding the run's inputs are refused. Single files go through `atomic_file`. `toml_text` renders the
metadata files of region bundles (region.toml, scenario.toml), which are written inside such a staging folder.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import sys
import tempfile
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from allocopt.errors import OutputError

if sys.platform != "win32":
    import fcntl

CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark: Excel then opens Chinese text correctly."""

MANIFEST_FILE = "allocopt-manifest.json"
"""Written into every output folder: which kind of result it is and which files allocopt wrote there."""

REGION_KIND = "region"
"""The kind of a region bundle written by `allocopt build-region` or `allocopt generate-region`."""


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


@dataclass(frozen=True)
class Manifest:
    """What an output folder holds: the kind of result (the command that wrote it), the allocopt version that
    wrote it, and the files it wrote (paths relative to the folder, `/`-separated)."""

    kind: str
    allocopt_version: str
    files: tuple[str, ...]


def read_manifest(directory: str | Path) -> Manifest | None:
    """The manifest of an output folder; None when there is none or it is not one allocopt wrote."""
    try:
        data = json.loads((Path(directory) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("kind"), str) and isinstance(data.get("files"), list)
            and all(isinstance(name, str) for name in data["files"])):
        return None
    return Manifest(kind=data["kind"], allocopt_version=str(data.get("allocopt_version", "")),
                    files=tuple(data["files"]))


def check_output_dir(out_dir: str | Path, *, kind: str, overwrite: bool = False, inputs: Iterable[str | Path] = (),
                     replace_earlier: bool = True) -> None:
    """Raise OutputError, naming the folder and the fix, unless a result of `kind` may be written to `out_dir`.

    Allowed: a new or empty folder; a folder holding an earlier result of the same kind (its files are replaced,
    other files kept), unless `replace_earlier` is False (then `overwrite` is needed); with `overwrite`, a folder
    holding other files or another kind of result (files allocopt did not write are kept, never replaced).
    Always refused: a file, the current directory or a folder holding it, a region bundle's own folder, an input
    of the run (`inputs`: files and folders the run reads) or a folder holding one.
    """
    try:
        refusal = _refusal(Path(out_dir), kind=kind, overwrite=overwrite, inputs=tuple(inputs),
                           replace_earlier=replace_earlier)
    except OSError as exc:  # the folder cannot be looked into
        raise _output_error(Path(out_dir), exc) from exc
    if refusal is not None:
        raise OutputError(f"{out_dir}: {refusal}")


def _refusal(target: Path, *, kind: str, overwrite: bool, inputs: tuple[str | Path, ...],
             replace_earlier: bool) -> str | None:
    """Why a result of `kind` may not be written to `target` (None when it may)."""
    real = target.resolve()
    here = Path.cwd().resolve()
    if real == here or real in here.parents:
        return ("is the current directory" if real == here else "holds the current directory") + (
            f"; results go into a folder of their own: give a new folder, e.g. {kind}-results/")
    for source in inputs:
        path = Path(source).resolve()
        if real == path or real in path.parents:
            relation = "is" if real == path else "holds"
            return (f"{relation} an input of this run ({source}); choose another folder for the results, e.g. "
                    f"{real.name or kind}-results/")
    if not real.exists():
        return None
    if not real.is_dir():
        return "is a file, not a folder; choose a folder name for the results"
    names = sorted(entry.name for entry in real.iterdir())
    if not names:
        return None
    earlier = read_manifest(real)
    ours = set(earlier.files) if earlier is not None else set()
    if "region.toml" in names and "region.toml" not in ours:
        return ("is a region bundle (it holds region.toml) that allocopt did not write here; outputs never go into "
                "such a folder: choose another one" + ("" if kind == REGION_KIND else ", e.g. a folder inside it"))
    if earlier is not None and earlier.kind == kind and (replace_earlier or overwrite):
        return None
    if overwrite:
        return None
    if earlier is not None and earlier.kind == kind:
        return (f"holds an earlier {kind} result; pass --overwrite to replace its files (files allocopt did not "
                "write there are kept)")
    if earlier is not None:
        return (f"holds an earlier allocopt {earlier.kind} result, not a {kind} result; choose another folder, or "
                "pass --overwrite to replace that result's files (files allocopt did not write are kept)")
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"is not empty and holds files allocopt did not write ({shown}); choose a new or empty folder, or "
            "pass --overwrite to write the results beside them (allocopt never replaces or deletes a file it did "
            "not write)")


@contextmanager
def atomic_output_dir(out_dir: str | Path, *, kind: str, overwrite: bool = False,
                      inputs: Iterable[str | Path] = (), replace_earlier: bool = True,
                      carry: Collection[str] = ()) -> Iterator[Path]:
    """Yield a staging folder whose files become the result in `out_dir` only when the block finishes without
    error; `check_output_dir` (same arguments) decides whether `out_dir` may receive it.

    The files of the earlier result there (its manifest's) are replaced; every other file is kept, linked into
    the new folder, and a file the new result would replace that allocopt did not write stops the swap
    (OutputError). `carry` names files of the earlier result to keep as part of the new one (linked into the
    staging folder before it is yielded). The new manifest lists the staged files. On any exception (including
    KeyboardInterrupt) the staging folder is removed and `out_dir` is left as it was. Concurrent writers of one
    folder each swap in a complete result, one after the other; staging and retired folders left by killed runs
    (`.NAME.*.partial`, `.NAME.old-*`) are cleaned up first.
    """
    sources = tuple(inputs)
    check_output_dir(out_dir, kind=kind, overwrite=overwrite, inputs=sources, replace_earlier=replace_earlier)
    target = Path(out_dir)
    real = target.resolve()
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        with _directory_lock(real.parent):
            _clean_stale(real)
            staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".partial", dir=real.parent))
            staging_lock = _lock(staging)
        _open_permissions(staging, directory=True)
    except OSError as exc:
        raise _output_error(target, exc) from exc
    try:
        for name in carry:
            if os.path.lexists(real / name):
                _link_or_copy(real / name, _new_path(staging / name))
        yield staging
        written = _files(staging)
        write_json({"kind": kind, "allocopt_version": _version(), "files": written}, staging / MANIFEST_FILE)
        with _directory_lock(real.parent):
            check_output_dir(out_dir, kind=kind, overwrite=overwrite, inputs=sources,
                             replace_earlier=replace_earlier)
            _keep_other_files(real, staging, target)
            _swap_in(staging, real)
    except OutputError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc.__cause__, OSError):  # a staged file's write failed: name the folder, not the file
            raise _output_error(target, exc) from exc
        raise  # a refusal, which names the folder and the fix
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _output_error(target, exc) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        _unlock(staging_lock)


def _version() -> str:
    from allocopt import __version__

    return __version__


def _files(directory: Path) -> list[str]:
    """Every file (and symbolic link) under `directory`, as sorted `/`-separated relative paths."""
    found = []
    for root, dirs, files in os.walk(directory):
        base = Path(root)
        found += [(base / name).relative_to(directory).as_posix()
                  for name in (*files, *(d for d in dirs if (base / d).is_symlink()))]
    return sorted(found)


def _new_path(path: Path) -> Path:
    """`path`, its parent folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _link_or_copy(source: Path, destination: Path) -> None:
    """A second name for `source` at `destination` (a hard link; a copy where the file system has none)."""
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:
        mode = os.lstat(source).st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(source), destination)
        elif stat.S_ISREG(mode):
            shutil.copy2(source, destination)
        else:
            raise


def _keep_other_files(real: Path, staging: Path, target: Path) -> None:
    """Link every file of the live folder that the earlier result did not write into the staging folder.

    OutputError, naming the file, when the new result has a file of the same name: allocopt never replaces a file
    it did not write.
    """
    if not real.is_dir():
        return
    earlier = read_manifest(real)
    ours = {*earlier.files, MANIFEST_FILE} if earlier is not None else set()
    for root, dirs, files in os.walk(real, onerror=_raise):  # a folder that cannot be read stops the swap
        base = Path(root)
        for name in (*files, *(d for d in dirs if (base / d).is_symlink())):
            relative = (base / name).relative_to(real)
            if relative.as_posix() in ours:
                continue
            destination = staging / relative
            if os.path.lexists(destination):
                raise OutputError(
                    f"{target}: {relative.as_posix()} there was not written by allocopt, and the new result has a "
                    "file of that name; move that file elsewhere or choose another folder (allocopt never "
                    "replaces a file it did not write). Earlier results there are unchanged."
                )
            _link_or_copy(base / name, _new_path(destination))
        for name in dirs:  # empty folders (those holding files are made with them)
            if not (base / name).is_symlink() and not any((base / name).iterdir()):
                (staging / (base / name).relative_to(real)).mkdir(parents=True, exist_ok=True)


def _raise(error: OSError) -> None:
    raise error


def _swap_in(staging: Path, target: Path) -> None:
    """Move the finished staging directory to `target`, keeping the old one until the new one is in place.

    Should the second move fail or be interrupted (Ctrl-C between the two moves), the old directory is put back;
    an interrupt raised just after the move went through keeps the new one. The old folder is then emptied of
    the earlier result's files and of the files linked into the new one.
    """
    if not target.exists():
        os.replace(staging, target)
        return
    os.chmod(staging, stat.S_IMODE(target.stat().st_mode))
    retired = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
    os.replace(target, retired)
    try:
        os.replace(staging, target)
    except BaseException:
        if target.exists():  # the move went through just before the interrupt was raised
            _discard_retired(retired, target)
        else:
            os.replace(retired, target)
        raise
    _discard_retired(retired, target)


def _discard_retired(retired: Path, live: Path) -> None:
    """Remove a retired result folder: the files its manifest lists and those linked into `live`; any other file
    (one made there during the swap) is moved into `live` when its name is free there, else left in place."""
    earlier = read_manifest(retired)
    ours = {*earlier.files, MANIFEST_FILE} if earlier is not None else set()
    try:
        for root, dirs, files in os.walk(retired, topdown=False):
            base = Path(root)
            for name in (*files, *(d for d in dirs if (base / d).is_symlink())):
                relative = (base / name).relative_to(retired)
                kept = live / relative
                if relative.as_posix() in ours or (os.path.lexists(kept) and _same_file(base / name, kept)):
                    os.unlink(base / name)
                elif not os.path.lexists(kept):
                    os.rename(base / name, _new_path(kept))
            for name in dirs:
                if not (base / name).is_symlink():
                    _remove_if_empty(base / name)
        _remove_if_empty(retired)
    except OSError:
        pass  # what is left is cleaned up by the next write to this folder


def _same_file(first: Path, second: Path) -> bool:
    a, b = os.lstat(first), os.lstat(second)
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _remove_if_empty(directory: Path) -> None:
    with suppress(OSError):
        directory.rmdir()


def _clean_stale(real: Path) -> None:
    """Remove what killed runs left beside `real`: staging folders no live run holds, and retired folders (put
    back as `real` when the run was killed between its two moves). Call with the parent folder locked."""
    partial = re.compile(rf"\.{re.escape(real.name)}\.[A-Za-z0-9_]+\.partial")
    retired_prefix = f".{real.name}.old-"
    for entry in sorted(real.parent.iterdir()):
        if entry.name.startswith(retired_prefix) and entry.is_dir() and not entry.is_symlink():
            if os.path.lexists(real):
                _discard_retired(entry, real)
            else:
                os.rename(entry, real)
        elif partial.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            held = _lock(entry, wait=False)
            if held is not None:
                shutil.rmtree(entry, ignore_errors=True)
                _unlock(held)


def _lock(directory: Path, *, wait: bool = True) -> int | None:
    """An exclusive advisory lock (flock) on `directory`, as an open descriptor to pass to `_unlock`; None when
    `wait` is False and another process holds it. Where locks are unsupported, the descriptor holds none."""
    if sys.platform == "win32":
        return -1
    handle = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(handle)
        return None
    except OSError:
        pass  # a file system without flock (some network mounts): carry on unlocked
    return handle


def _unlock(handle: int | None) -> None:
    if handle is not None and handle >= 0:
        os.close(handle)


@contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on `directory` for the block: the moves into and out of it are serialised."""
    handle = _lock(directory)
    try:
        yield
    finally:
        _unlock(handle)


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


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
"""First characters a spreadsheet may read as a formula (OWASP CSV injection), plus the quote that marks them."""


def spreadsheet_cell(text: str) -> str:
    """A text cell made inert for spreadsheets: `'` goes before a text that starts with = + - @ tab, CR or `'`.

    Excel and LibreOffice evaluate a CSV cell such as `=HYPERLINK(...)` as a formula; with the quote in front
    they show it as text. `'` itself is quoted too, so `from_spreadsheet_cell` gives back the exact text.
    """
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def from_spreadsheet_cell(text: str) -> str:
    """The text `spreadsheet_cell` was given (its inverse)."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write `table` as CSV in UTF-8 with BOM and CRLF line ends, without the index; text cells pass
    `spreadsheet_cell`."""
    text_columns = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])
                    and not pd.api.types.is_bool_dtype(table[c])]
    safe = table.copy()
    for column in text_columns:
        safe[column] = table[column].map(_inert, na_action="ignore")
    with atomic_file(path) as staging:
        # CRLF rows (RFC 4180): the csv module then quotes a cell holding a lone CR, which would end a row.
        safe.to_csv(staging, index=False, encoding=CSV_ENCODING, lineterminator="\r\n")
    return Path(path)


def _inert(value: object) -> object:
    return spreadsheet_cell(value) if isinstance(value, str) else value


def write_json(data: Mapping[str, Any], path: str | Path) -> Path:
    """Write `data` as indented UTF-8 JSON; NaN and infinity are refused (use None)."""
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    with atomic_file(path) as staging:
        staging.write_text(text, encoding="utf-8")
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    """Write `text` as UTF-8."""
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
