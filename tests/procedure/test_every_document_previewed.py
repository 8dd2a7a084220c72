"""Nobody issues a legal document blind (issue 16): for *every* transition of the definition that
generates a document, the officer who fires it is offered the draft before it goes, and the supervisor
who approves it sees the document, a draft of it and the list of what will be sent.

The transitions are read from the definition (``workflows.effects.generated_titles``), so a new one is
checked the day it is declared. Cheap by design: one case, no transition fired — the fire page and the
approval page are rendered for each transition as the views render them, and each draft is rendered
from the inputs exactly as an approval stores them (the preview of tests/workflow/test_document_preview.py
end to end, for the paths it exercises there).
"""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from casehub.agencies.models import AgencyKind
from casehub.cases import access
from casehub.transfers.forms import TransitionForm
from casehub.transfers.views import package_preview
from tests.procedure.conftest import at
from tests.procedure.test_every_document_kind_signed import ISSUER, _sample, plea_case  # noqa: F401 - fixture
from workflows import definition, documents, effects, engine
from workflows.models import ApprovalRequest

pytestmark = pytest.mark.time_machine(at("2026-11-02"))

GENERATING = [spec for spec in definition.TRANSITIONS if effects.generated_titles(spec.effects)]
SUPERVISOR = {AgencyKind.POLICE: "police_supervisor", AgencyKind.PROCURATORATE: "procuratorate_supervisor",
              AgencyKind.COURT: "court_supervisor"}
SENDS = (definition.SEND, definition.DELIVER, definition.NOTIFY)
# Documents about persons the sample case has none of: their preview is empty here (the view answers 404,
# nothing to preview), and each is previewed in the scenario of its own.
NOTHING_TO_PREVIEW_HERE = {
    "hand_over_separately": "only the defendants separated at the second instance (SPC Interpretation art. 390)",
}


def test_the_definition_has_generating_transitions_of_every_agency():
    assert {spec.agency_kind for spec in GENERATING} == {AgencyKind.POLICE, AgencyKind.PROCURATORATE, AgencyKind.COURT}
    assert {"withdraw_case", "indict", "revoke_non_prosecution_on_petition", "extend_review"} <= {
        s.name for s in GENERATING}


def test_every_generated_document_is_previewed_by_the_officer_and_by_the_approver(plea_case, district, client,  # noqa: F811
                                                                                  upload):
    case = plea_case
    upload(case, "现场勘验笔录", "investigator", category="evidence")  # the main file a package carries
    for agency in (district.police, district.procuratorate, district.court):
        access.grant(case, agency, act=False)  # every approver reads the case it is asked about
    main_titles = [doc.title for doc in case.documents.filter(is_current=True, part="main")]
    for spec in GENERATING:
        user = district.users[ISSUER[spec.agency_kind]]
        titles = [str(t) for t in effects.generated_titles(spec.effects)]
        effect_name = next(name for name in spec.effects if name in documents.BUILDERS)
        inputs = engine._jsonable_inputs(engine.clean_inputs(spec, _sample(spec, district, case, effect_name)))

        # The officer: the form names the documents and offers the draft (templates/transfers/fire.html).
        shown = package_preview(spec, case)
        assert shown is not None and [str(t) for t in shown["generated"]] == titles, spec.name
        request = RequestFactory().get("/")
        request.user = user
        page = render_to_string("transfers/fire.html", {
            "case": case, "spec": spec, "form": TransitionForm(spec, initial={"version": case.version}, case=case),
            "problems": [], "blocked": [], "preview": shown, "pending": None,
            "stage": definition.STAGES.get(case.stage)}, request=request)
        assert reverse("transfers:fire_preview", args=[case.pk, spec.name]) in page, spec.name
        assert all(title in page for title in titles), spec.name

        # The draft, from the inputs as the approval stores them (the officer's and the approver's preview).
        drafts = documents.preview(case, spec, user=user, inputs=engine._inputs_from_json(spec, inputs))
        assert drafts or spec.name in NOTHING_TO_PREVIEW_HERE, spec.name
        assert all(d.pdf.startswith(b"%PDF") for d in drafts), spec.name

        if not spec.requires_approval:
            continue
        # The approver: the page names the documents, links their draft and lists what will be sent.
        ApprovalRequest.objects.filter(case=case).delete()
        approval = ApprovalRequest.objects.create(case=case, transition=spec.name, source_stage=case.stage,
                                                  inputs=inputs, agency=user.agency, requested_by=user)
        client.force_login(district.users[SUPERVISOR[spec.agency_kind]])
        response = client.get(reverse("transfers:approval", args=[approval.pk]))
        assert response.status_code == 200, spec.name
        section = response.content.decode()
        section = section[section.index('id="package-preview"'):]
        assert reverse("transfers:approval_preview", args=[approval.pk]) in section, spec.name
        assert all(title in section for title in titles), spec.name
        if spec.handover in SENDS:
            assert 'id="package-documents"' in section and all(t in section for t in main_titles), spec.name
