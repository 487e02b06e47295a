"""The message catalogues: both languages complete, every key the code uses present, numbers as documents write them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from allocopt.i18n import LANGUAGES, LOCALE_DIR, MissingMessageError, catalogue, translator

SOURCE_DIR = Path(__file__).resolve().parents[1] / "src" / "allocopt"


def _keys_by_file(language: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for path in sorted((LOCALE_DIR / language).glob("*.po")):
        with path.open("rb") as handle:
            keys[path.stem] = [str(m.id) for m in read_po(handle) if m.id]
    return keys


def _used_keys() -> tuple[set[str], set[str]]:
    """Keys passed as literals to `tr(...)` / `x.tr(...)`, and families passed to `.term(...)`, anywhere in src."""
    keys: set[str] = set()
    families: set[str] = set()
    for path in SOURCE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "tr":
                keys.add(node.args[0].value)
            elif name == "term":
                families.add(node.args[0].value)
    return keys, families


def test_every_language_holds_the_same_keys_in_the_same_files() -> None:
    reference = _keys_by_file(LANGUAGES[0])
    assert reference, "no catalogue files found"
    for language in LANGUAGES[1:]:
        other = _keys_by_file(language)
        assert sorted(other) == sorted(reference), f"{language}: catalogue files differ"
        for domain, keys in reference.items():
            assert set(other[domain]) == set(keys), (
                f"{domain}.po: missing in {language}: {sorted(set(keys) - set(other[domain]))}; "
                f"missing in {LANGUAGES[0]}: {sorted(set(other[domain]) - set(keys))}")


def test_keys_live_in_the_file_of_their_domain_and_are_unique() -> None:
    for language in LANGUAGES:
        for domain, keys in _keys_by_file(language).items():
            assert len(keys) == len(set(keys)), f"{language}/{domain}.po repeats a key"
            misplaced = [k for k in keys if k.split(".", 1)[0] != domain]
            assert not misplaced, f"{language}/{domain}.po holds keys of another domain: {misplaced}"


def test_no_message_is_empty_and_fields_agree_across_languages() -> None:
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    zh, en = catalogue("zh"), catalogue("en")
    for key in zh:
        assert zh[key].strip() and en[key].strip(), f"{key} is empty in one language"
        assert fields(zh[key]) == fields(en[key]), f"{key}: format fields differ between zh and en"


def test_every_key_the_code_uses_exists() -> None:
    keys, families = _used_keys()
    for language in LANGUAGES:
        known = catalogue(language)
        assert not sorted(keys - set(known)), f"keys used in src but missing in {language}"
        for family in families:
            assert any(k.startswith(family + ".") for k in known), f"no {family}.* terms in {language}"


def test_a_missing_key_is_an_error_and_an_unknown_language_is_refused() -> None:
    with pytest.raises(MissingMessageError, match=r"report\.no_such_key"):
        translator("zh")("report.no_such_key")
    with pytest.raises(ValueError, match="fr"):
        translator("fr")


@pytest.mark.parametrize(("language", "value", "expected"), [
    ("zh", 203_977, "20.4万人"),
    ("zh", 950, "950人"),
    ("zh", 2_031_0000, "2,031万人"),
    ("en", 203_977, "203,977 people"),
])
def test_people_are_counted_as_documents_count_them(language: str, value: float, expected: str) -> None:
    assert translator(language).people(value) == expected


@pytest.mark.parametrize(("language", "value", "expected"), [
    ("zh", 30_000_000, "3,000万元"),
    ("zh", 1.2e9, "12.00亿元"),
    ("en", 30_000_000, "30.0 million yuan"),
    ("en", 45_000, "45,000 yuan"),
])
def test_money_is_written_as_documents_write_it(language: str, value: float, expected: str) -> None:
    assert translator(language).yuan(value) == expected


def test_vocabulary_terms_fall_back_to_the_name() -> None:
    tr = translator("zh")
    assert tr.term("common.level", "township_hc") == "乡镇卫生院"
    assert tr.term("common.level", "field_hospital") == "field_hospital"
    assert tr.share(0.8532) == "85.3%"
