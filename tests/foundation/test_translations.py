"""The English catalogue is complete and compiled: switching to English never shows a half-Chinese page."""

from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parents[2] / "casehub" / "locale" / "en" / "LC_MESSAGES"


def test_every_message_has_an_english_translation():
    po = polib.pofile(str(LOCALE / "django.po"))
    missing = [e.msgid for e in po if not e.obsolete and (
        "fuzzy" in e.flags or (e.msgid_plural and not all(e.msgstr_plural.values())) or (not e.msgid_plural and not e.msgstr))]
    assert missing == [], f"untranslated (run `make messages` and add them to translations.json): {missing[:20]}"


def test_the_compiled_catalogue_matches_the_source():
    po = polib.pofile(str(LOCALE / "django.po"))
    mo = polib.mofile(str(LOCALE / "django.mo"))
    compiled = {e.msgid: e.msgstr for e in mo if not e.msgid_plural}
    for entry in po:
        if entry.obsolete or entry.msgid_plural or "fuzzy" in entry.flags:
            continue
        assert compiled.get(entry.msgid) == entry.msgstr, entry.msgid


def test_translations_keep_every_placeholder():
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]")
    po = polib.pofile(str(LOCALE / "django.po"))
    for entry in po:
        if entry.obsolete or entry.msgid_plural:
            continue
        assert sorted(placeholder.findall(entry.msgid)) == sorted(placeholder.findall(entry.msgstr)), entry.msgid
