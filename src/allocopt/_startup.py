"""The command line's first step: loading allocopt's libraries, with one line instead of a traceback when the
process has too little memory for them (a small `ulimit -v`, a crowded container), and only those a command
needs: the CLI names the heavy modules through `deferred`, which imports them on first use, so that `allocopt
--help` loads click and little else."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from typing import Any

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


class deferred:  # named like the module it stands in for
    """`module` (or its attribute `name`), imported when it is first used: an attribute read or a call.

    The CLI's commands use pandas, the workflow and the models; `deferred` lets the command modules name them at
    the top as usual while `allocopt --help` and `allocopt locate pmedian --help` load none of them.
    """

    def __init__(self, module: str, name: str | None = None) -> None:
        self._module = module
        self._name = name

    def _target(self) -> Any:
        with libraries_loaded():  # memory too short to load them: one line, as at start
            loaded = importlib.import_module(self._module)  # a dictionary look-up once loaded
        return loaded if self._name is None else getattr(loaded, self._name)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._target(), attribute)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<deferred {self._module}{'.' + self._name if self._name else ''}>"
