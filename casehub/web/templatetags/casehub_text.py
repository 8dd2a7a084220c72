"""Filters that put texts stored in Chinese into the reader's language.

``law`` renders a statutory citation written the Chinese way ("刑事诉讼法第一百七十五条第四款、
第一百七十七条") in English as "CPL art. 175(4), 177"; in Chinese it is left as written.
``bilingual`` keeps, in English, only the English half of a label stored as "中文 / English"
(the capability names).
"""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

register = template.Library()

DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL = "[零一二两三四五六七八九十百千]+"
LAWS = {"人民检察院刑事诉讼规则": "SPP Rules", "公安机关办理刑事案件程序规定": "MPS Provisions", "刑事诉讼法": "CPL",
        "刑法": "Criminal Law", "最高人民法院解释": "SPC Interpretation", "社区矫正法": "Community Corrections Law"}
# 第N条 (article), 第N款 (paragraph) and 第N项 (item): "CPL art. 208(3)", "CPL art. 204(2)".
CITATION = re.compile(rf"(?P<law>{'|'.join(LAWS)})?第(?P<article>{NUMERAL})条(?:第(?P<paragraph>{NUMERAL})款)?"
                      rf"(?:第(?P<item>{NUMERAL})项)?")
CJK = re.compile(r"[\u3400-\u9fff]")


def chinese_number(text: str) -> int:
    """一百七十五 → 175, 二百零八 → 208, 十二 → 12 (the numbers the code of law uses)."""
    total, digit = 0, 0
    for char in text:
        if char in DIGITS:
            digit = DIGITS[char]
        else:
            total += (digit or 1) * UNITS[char]
            digit = 0
    return total + digit


def _english(language: str | None) -> bool:
    return (language or "").startswith("en")


@register.filter
def law(text: object) -> str:
    value = "" if text is None else str(text)
    if not _english(get_language()) or not value:
        return value
    seen_law = {"law": ""}

    def cite(match: re.Match[str]) -> str:
        number = str(chinese_number(match["article"]))
        if match["paragraph"]:
            number += f"({chinese_number(match['paragraph'])})"
        if match["item"]:
            number += f"({chinese_number(match['item'])})"
        if match["law"]:
            seen_law["law"] = LAWS[match["law"]]
            return f"{seen_law['law']} art. {number}"
        return number if seen_law["law"] else f"art. {number}"

    result = CITATION.sub(cite, value)
    return (result.replace("、", ", ").replace("，", ", ").replace("；", "; ").replace("。", ".")
            .replace("至", "–"))


@register.filter
def bilingual(text: object) -> str:
    value = "" if text is None else str(text)
    if not _english(get_language()):
        return value
    return re.sub(r"[^\s·/（）()]*[\u3400-\u9fff][^/]*?\s*/\s*", "", value)


# Names auditors read for the keys of an event's details (others are shown as they are).
DETAIL_LABELS = {
    "title": _("标题"), "reason": _("理由"), "sha256": "SHA-256", "pages": _("页数"), "size": _("大小（字节）"),
    "filename": _("文件名"), "category": _("类别"), "part": _("卷别"), "number": _("编号"), "kind": _("类别"),
    "status": _("状态"), "changes": _("变更"), "recipients": _("接收人"), "order": _("顺序"), "volumes": _("卷"),
    "documents": _("材料"), "comment": _("意见"), "inputs": _("填写内容"), "from": _("从"), "to": _("到"),
    "fields": _("变更项"), "username": _("用户名"), "ip": _("IP 地址"), "path": _("路径"), "code": _("代码"),
    "person": _("涉案人员"), "persons": _("涉案人员"), "certificates": _("换押证"), "stage": _("阶段"),
}
MAX_VALUE = 200


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{DETAIL_LABELS.get(k, k)}={_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    text = str(value)
    if re.fullmatch(r"[0-9a-f]{64}", text):
        return text[:12] + "…"
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…"


@register.filter
def audit_details(details: Any) -> str:
    """An event's details as "label: value" lines for people (not a Python dict)."""
    if not details:
        return ""
    if not isinstance(details, dict):
        return escape(_value(details))
    return format_html_join(
        mark_safe("<br>"), '<span class="detail-key">{}</span>: {}',
        ((DETAIL_LABELS.get(key, key), _value(value)) for key, value in details.items()),
    )
