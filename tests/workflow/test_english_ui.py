"""The English UI: no Chinese left outside names and what people typed (case titles, agency and
person names, document titles, stated facts). Every page of a case that went to court is opened
by the users who work with it, with the language set to English; any Chinese text on the page
that is not such data fails the test, with the page and the text."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from casehub.agencies.models import Agency, User
from casehub.cases.models import Case, CaseNumber, Person
from casehub.custody.models import CustodyCertificate
from casehub.dossier.models import Document, Volume
from workflows.models import ApprovalRequest, Transfer, TransitionLog

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+")
TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S)


def _data_corpus() -> str:
    """Every piece of text users or data put in (never labels the UI makes)."""
    parts: list[str] = []
    for model, fields in ((Case, ["title", "summary"]), (Person, ["name"]), (Agency, ["name", "abbreviation"]),
                          (User, ["display_name", "username"]), (Document, ["title", "original_filename", "reason"]),
                          (CaseNumber, ["number"]), (ApprovalRequest, ["comment"]), (Transfer, ["decision_reason"]),
                          (CustodyCertificate, ["number"])):
        for row in model.objects.values_list(*fields):
            parts.extend(str(v) for v in row if v)
    for log in TransitionLog.objects.all():
        parts.extend(str(v) for v in (getattr(log, "inputs", None) or {}).values())
        parts.append(getattr(log, "reason", "") or "")
    return "\n".join(parts)


def chinese_left(page: str, corpus: str) -> list[str]:
    main = page[page.find("<main"):] if "<main" in page else page
    text = html.unescape(TAG.sub(" ", main))
    left = set()
    for match in CJK.finditer(text):
        if match.group() not in corpus:
            left.add(text[max(0, match.start() - 25):match.end() + 10].replace("\n", " "))
    return sorted(left)


@pytest.fixture
def court_case(case, drive, district):
    drive.to_court(case)
    return case


def test_every_page_of_a_case_in_english_has_no_chinese_labels(court_case, district, client):
    case = court_case
    corpus = _data_corpus()
    client.cookies["django_language"] = "en"
    volume = Volume.objects.filter(case=case, status="assembled").first()
    document = Document.objects.filter(case=case, is_current=True).first()
    transfer = Transfer.objects.filter(case=case, from_agency=district.police).first()
    approval = ApprovalRequest.objects.filter(case=case, agency=district.police).first()
    pages = {
        "investigator": ["/", reverse("cases:list"), reverse("notifications:list"), reverse("transfers:process"),
                         reverse("transfers:detail", args=[transfer.pk]),
                         reverse("transfers:approval", args=[approval.pk])],
        "court_clerk": ["/", reverse("cases:detail", args=[case.pk]), reverse("dossier:case", args=[case.pk]),
                        reverse("dossier:volume", args=[volume.pk]), reverse("dossier:document", args=[document.pk]),
                        reverse("clocks:list"), reverse("clocks:case", args=[case.pk]), reverse("transfers:inbox"),
                        reverse("custody:case", args=[case.pk])],
        "judge": ["/", reverse("cases:detail", args=[case.pk]),
                  reverse("transfers:fire", args=[case.pk, "announce_judgment"])],
        "prosecutor": ["/", reverse("notifications:list")],
        "police_supervisor": ["/", reverse("notifications:list")],
        "detention_officer": ["/", reverse("custody:inbox"), reverse("custody:detainees")],
        "auditor": ["/", reverse("audit:list"), reverse("metrics:dashboard")],
        "police_admin": ["/", reverse("agency-settings")],
    }
    found = []
    for role, urls in pages.items():
        client.force_login(district.users[role])
        for url in urls:
            response = client.get(url)
            if response.status_code != 200:
                found.append(f"{role} {url}: HTTP {response.status_code}")
                continue
            left = chinese_left(response.content.decode(), corpus)
            if left:
                found.append(f"{role} {url}: {left}")
    assert not found, "Chinese in the English UI:\n" + "\n".join(found)
