"""The CJK font that maps and charts use for Chinese township and facility names, shipped by a PyPI package.

Planners' machines, CI and containers rarely have a Chinese system font, and matplotlib's default (DejaVu Sans)
draws every Chinese character as an empty box. The Noto Sans CJK SC file that the `mplfonts` package ships is
registered with matplotlib's font manager instead, so names render the same everywhere after `pip install`.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from matplotlib import font_manager

from allocopt.errors import FontMissingError

CJK_FONT_PACKAGE = "mplfonts"
"""PyPI package (and import name) that ships the font file."""

CJK_FONT_FILE = ("fonts", "NotoSansCJKsc-Regular.otf")
"""Path of the font file inside the package: Noto Sans CJK SC Regular (SIL Open Font License)."""

LATIN_FALLBACK_FAMILY = "DejaVu Sans"
"""matplotlib's bundled font, listed after the CJK family for any glyph the CJK font lacks."""


def cjk_font_path() -> Path:
    """Location of the Noto Sans CJK SC file inside the installed `mplfonts` package.

    The package is located without importing it. Raises `FontMissingError` saying what to install when the
    package or its font file is missing.
    """
    spec = importlib.util.find_spec(CJK_FONT_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise FontMissingError(
            f"the Python package {CJK_FONT_PACKAGE!r}, which ships the Chinese font used on maps, is not "
            f"installed; install it with `pip install {CJK_FONT_PACKAGE}` (or reinstall allocopt)."
        )
    path = Path(locations[0]).joinpath(*CJK_FONT_FILE)
    if not path.is_file():
        raise FontMissingError(
            f"{path}: the Chinese font file is missing from the installed {CJK_FONT_PACKAGE!r} package; "
            f"reinstall it with `pip install --force-reinstall {CJK_FONT_PACKAGE}`."
        )
    return path


@functools.cache
def cjk_font_family() -> str:
    """Register the CJK font with matplotlib (once per process) and return its family name."""
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def font_families() -> list[str]:
    """Font families for text that may hold Chinese: the CJK font first, matplotlib's default after it."""
    return [cjk_font_family(), LATIN_FALLBACK_FAMILY]
