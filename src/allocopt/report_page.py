"""The report page: the Jinja2 template filled with the report's sections, with its own subset of the CJK font.

The page is one self-contained file that a bureau can mail or open offline: images and the font are data URIs,
the style is inline, and a Content-Security-Policy forbids every network request. Chinese renders on machines
without a Chinese system font because the page embeds the glyphs it uses from Noto Sans CJK SC
(`allocopt.fonts.cjk_font_path`), subset with fontTools to WOFF2: a few hundred KB instead of 16 MB.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import re
from dataclasses import dataclass, field

import jinja2
from fontTools import subset
from markupsafe import Markup

from allocopt.fonts import cjk_font_path
from allocopt.report_blocks import Paragraph, Section

TEMPLATE = "report.html.j2"
FONT_FAMILY = "allocopt-cjk"
"""The family name the page gives its embedded font."""
HTML_LANGUAGES = {"zh": "zh-CN", "en": "en"}
ALWAYS_IN_FONT = "".join(chr(c) for c in range(0x20, 0x7F)) + "一二三四五六七八九十、．—·"
"""Characters the subset always holds: printable ASCII and those of the section numbers the style generates."""
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_POLICY = "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Page:
    """Everything the template shows: the title, the opening, the sections and the interactive map."""

    language: str
    title: str
    subtitle: str
    lead: tuple[str, ...]
    notes: tuple[Paragraph, ...]
    sections: tuple[Section, ...]
    footer: str
    interactive_map: Markup = field(default_factory=Markup)
    interactive_map_heading: str = ""
    script_sources: tuple[str, ...] = ()
    """CSP source expressions (`'sha256-...'`) of the interactive map's inline scripts."""
    font_text: str = ""
    """Text the page shows that is not in its HTML (the interactive map's labels), for the font subset."""


def render(page: Page) -> str:
    """The page as HTML, with the subset font for every character it shows."""
    first = _render(page, font_css=Markup(""))
    return _render(page, font_css=Markup(font_face(first + page.font_text)))


def policy(page: Page) -> str:
    """The page's Content-Security-Policy: no network; with an interactive map, exactly its inline scripts (by
    hash, `Page.script_sources`), no other script."""
    if not page.interactive_map:
        return _POLICY
    return f"{_POLICY}; script-src {' '.join(page.script_sources)}"


def font_face(text: str) -> str:
    """An @font-face rule embedding the CJK font, subset to the characters of `text`, as a WOFF2 data URI."""
    characters = "".join(sorted(set(text) | set(ALWAYS_IN_FONT)))
    encoded = base64.b64encode(subset_font(characters)).decode("ascii")
    return (f"@font-face{{font-family:\"{FONT_FAMILY}\";font-style:normal;font-weight:400;font-display:block;"
            f"src:url(data:font/woff2;base64,{encoded}) format(\"woff2\")}}")


@functools.lru_cache(maxsize=4)
def subset_font(characters: str) -> bytes:
    """Noto Sans CJK SC reduced to `characters`, as WOFF2 (Brotli-compressed) bytes."""
    options = subset.Options()
    options.flavor = "woff2"
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    font = subset.load_font(str(cjk_font_path()), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    buffer = io.BytesIO()
    subset.save_font(font, buffer, options)
    font.close()  # the TTFont holds the 16 MB .otf open until closed
    return buffer.getvalue()


def _render(page: Page, *, font_css: Markup) -> str:
    return _environment().get_template(TEMPLATE).render(
        page=page, html_language=HTML_LANGUAGES.get(page.language, page.language), policy=policy(page),
        font_css=font_css, font_family=FONT_FAMILY)


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.PackageLoader("allocopt", "templates"), autoescape=True,
                                     finalize=_escaped, undefined=jinja2.StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters["pyrepr"] = repr
    return environment


def _escaped(value: object) -> Markup:
    """Every value the template prints: HTML-escaped, with control characters (other than tab and newline) shown
    as U+FFFD so that a hostile name cannot break the page."""
    if isinstance(value, Markup):
        return value
    return Markup(_CONTROL_CHARACTERS.sub("\ufffd", html.escape(str(value), quote=True)))
