"""Merge English translations (JSON: Chinese msgid -> English) into the en catalogue.

Used by maintainers after ``make messages``: ``python casehub/locale/apply_translations.py FILE...``.
Existing translations are kept unless the JSON gives a new one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polib

PO = Path(__file__).parent / "en" / "LC_MESSAGES" / "django.po"


def main(paths: list[str]) -> None:
    translations: dict[str, str] = {}
    for path in paths:
        translations.update(json.loads(Path(path).read_text(encoding="utf-8")))
    po = polib.pofile(str(PO))
    changed = 0
    for entry in po:
        if entry.msgid_plural and entry.msgid in translations:
            # Both English forms from one translation that carries the number, e.g. "%(n)s pages".
            entry.msgstr_plural = {0: translations[entry.msgid], 1: translations[entry.msgid]}
            continue
        if entry.msgid in translations and entry.msgstr != translations[entry.msgid]:
            entry.msgstr = translations[entry.msgid]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            changed += 1
    po.save()
    missing = [e.msgid for e in po if not e.obsolete and ((not e.msgid_plural and not e.msgstr) or "fuzzy" in e.flags)]
    print(f"{changed} translations applied; {len(missing)} untranslated")
    for msgid in missing:
        print("  ", repr(msgid))


if __name__ == "__main__":
    main(sys.argv[1:])
