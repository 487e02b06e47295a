"""Guards on every input file before it is read: a regular file, of bounded size, inside its region bundle.

A FIFO, a device (a symlink to /dev/zero) or a directory given where a file belongs would hang a reader or feed it
without end, so `checked_file` refuses anything but a regular file. Settings files (region.toml, scenario TOML)
and data files (layers, cost matrices, planners' tables) have documented maxima, `MAX_SETTINGS_MB` and
`MAX_DATA_MB`, which the environment variables `ALLOCOPT_MAX_SETTINGS_MB` and `ALLOCOPT_MAX_INPUT_MB` raise.
`inside_bundle` keeps a layer's `file` inside its bundle unless the layer opts out explicitly.
"""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path
from typing import Any, Literal

from allocopt.errors import DataError

MAX_SETTINGS_MB = 1.0
"""Largest region.toml or scenario file read, in megabytes (override: $ALLOCOPT_MAX_SETTINGS_MB)."""

MAX_DATA_MB = 4096.0
"""Largest layer, cost matrix or planner's table read, in megabytes (override: $ALLOCOPT_MAX_INPUT_MB)."""

_LIMIT_VARIABLES = {"settings": ("ALLOCOPT_MAX_SETTINGS_MB", MAX_SETTINGS_MB), "data": ("ALLOCOPT_MAX_INPUT_MB",
                                                                                      MAX_DATA_MB)}

InputKind = Literal["settings", "data"]


def limit_bytes(kind: InputKind) -> int:
    """The largest input of `kind` read, in bytes: the environment's override or the documented default."""
    variable, default_mb = _LIMIT_VARIABLES[kind]
    text = os.environ.get(variable, "").strip()
    try:
        megabytes = float(text) if text else default_mb
    except ValueError:
        raise DataError(f"${variable} = {text!r} is not a number of megabytes; set it to e.g. {default_mb:g}") from None
    if not megabytes > 0:
        raise DataError(f"${variable} = {text!r} must be a positive number of megabytes")
    return int(megabytes * 1_000_000)


def checked_file(path: str | Path, *, kind: InputKind, what: str) -> Path:
    """`path` after checking it is a regular file (symlinks followed) no larger than the limit of `kind`.

    `what` names the input in messages ("scenario file", "layer 'roads'"). A missing file, a directory, a FIFO,
    a device or socket, and a file over the limit raise DataError saying what to give instead.
    """
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: the {what} does not exist; check the path.") from None
    except OSError as exc:
        raise _unreadable(path, what, exc) from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(
            f"{path}: the {what} cannot be read: it is {_file_type(info.st_mode)}, not a regular file; give the "
            "path of an ordinary file (pipes, devices and directories are not read)."
        )
    limit = limit_bytes(kind)
    if info.st_size > limit:
        variable = _LIMIT_VARIABLES[kind][0]
        raise DataError(
            f"{path}: the {what} holds {info.st_size / 1e6:,.1f} MB, more than the {limit / 1e6:,.1f} MB read at "
            f"most; check it is the right file, or raise the limit with ${variable} (megabytes)."
        )
    return path


def read_bytes(path: str | Path, *, kind: InputKind, what: str) -> bytes:
    """The contents of a checked input file (see `checked_file`); never more than its limit, even if it grows."""
    path = checked_file(path, kind=kind, what=what)
    limit = limit_bytes(kind)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise _unreadable(path, what, exc) from None
    if len(data) > limit:
        raise DataError(f"{path}: the {what} grew past {limit / 1e6:,.1f} MB while it was read; read a finished file.")
    return data


def parse_toml(path: Path, *, what: str) -> dict[str, Any]:
    """A checked settings file (UTF-8, a byte-order mark allowed) parsed as TOML; DataError naming it otherwise."""
    data = read_bytes(path, kind="settings", what=what)
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (undecodable byte at offset {exc.start}); save it as UTF-8.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc}); fix the syntax at that line.") from exc
    except RecursionError:
        raise DataError(f"{path}: arrays or tables nested too deeply to read; flatten the {what}.") from None


def inside_bundle(bundle: Path, file: str, *, where: str, outside_allowed: bool) -> Path:
    """The path of a layer's `file` (relative to `bundle`), which must lie inside the bundle directory.

    A bundle is a self-contained directory: its files are hashed into every plan's summary, and messages may
    quote their cells. A file elsewhere (an absolute path or `..`) is accepted only with `outside_allowed`
    (the layer's `outside_bundle = true` in region.toml); otherwise DataError says how to fix it.
    """
    path = bundle / file
    if outside_allowed:
        return path
    root = bundle.resolve()
    if not path.resolve().is_relative_to(root):
        raise DataError(
            f"{where}: file {file!r} lies outside the bundle directory {bundle}; copy the file into the bundle, "
            "or set `outside_bundle = true` for this layer to read a shared file on purpose (it is then hashed "
            "into each plan's summary too)."
        )
    return path


def _file_type(mode: int) -> str:
    """What kind of non-regular file `mode` describes, in words."""
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _unreadable(path: Path, what: str, exc: OSError) -> DataError:
    return DataError(f"{path}: the {what} cannot be read ({exc.strerror or exc}); make it a readable file.")
