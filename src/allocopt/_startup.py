"""The command line's first step: loading allocopt's libraries, with one line instead of a traceback when the
process has too little memory for them (a small `ulimit -v`, a crowded container)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

EXIT_OUT_OF_MEMORY = 5
"""As for results that cannot be written: the machine lacks a resource; the input is not wrong as such."""

_NO_MEMORY_SIGNS = ("failed to map segment", "cannot allocate memory")
"""What the dynamic loader says when a shared library (GEOS, GDAL) does not fit in the memory left."""


@contextlib.contextmanager
def libraries_loaded() -> Iterator[None]:
    """Run the imports inside; should memory run out while loading them (MemoryError, or a shared library that
    cannot be mapped), print one line and exit with EXIT_OUT_OF_MEMORY."""
    try:
        yield
    except (MemoryError, ImportError) as exc:
        cause = _memory_cause(exc)
        if cause is None:
            raise
        reason = " ".join(f"{type(cause).__name__}: {cause}".split())
        sys.stderr.write(f"Error: out of memory while loading allocopt's libraries ({reason}); raise the memory "
                         "limit of the process (ulimit -v) or free memory.\n")
        raise SystemExit(EXIT_OUT_OF_MEMORY) from None


def _memory_cause(exc: BaseException) -> BaseException | None:
    """The MemoryError, or the loader's failure to map a library, in `exc` or the exceptions it was raised from
    (scipy re-raises the loader's ImportError as "your install seems to be broken")."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError) or any(sign in str(seen).lower() for sign in _NO_MEMORY_SIGNS):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
