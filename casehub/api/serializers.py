"""Request and response bodies. Validation of particulars reuses the UI's forms, so a rule
(ID number check digit, detention centre required for a detained person, …) holds on both paths."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from casehub.agencies.models import Agency, Role
from casehub.api.models import ApiCredential, ApiTask
from casehub.api.strict import StrictModelSerializer, StrictSerializer
from casehub.audit.models import AuditEvent
from casehub.cases.display import stage_label
from casehub.cases.forms import PersonForm
from casehub.cases.models import Case, CaseNumber, Offence, Person

# The largest row id (bigint). Larger numbers in bodies and query parameters are a 400 naming the
# field; they never reach the database (SQLite cannot even bind them).
ID_MAX = 2**63 - 1

# --- agencies -------------------------------------------------------------------------------


class AgencyRefSerializer(StrictModelSerializer):
    class Meta:
        model = Agency
        fields = ("id", "code", "name", "kind")


@extend_schema_serializer(examples=[OpenApiExample("procuratorate", response_only=True, value={
    "id": 2, "code": "JC440307", "name": "深圳市龙岗区人民检察院", "kind": "procuratorate",
    "kind_label": "人民检察院", "abbreviation": "深龙", "court_code": "", "region": "440307", "parent": None,
})])
class AgencySerializer(StrictModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = Agency
        fields = ("id", "code", "name", "kind", "kind_label", "abbreviation", "court_code", "region", "parent")


# --- who am I --------------------------------------------------------------------------------


class CredentialRefSerializer(StrictModelSerializer):
    class Meta:
        model = ApiCredential
        fields = ("key_id", "kind", "name", "expires_at")


@extend_schema_serializer(examples=[OpenApiExample("investigator", response_only=True, value={
    "id": 7, "username": "investigator", "display_name": "李警官",
    "agency": {"id": 1, "code": "GA440307", "name": "深圳市公安局龙岗分局", "kind": "police"},
    "roles": ["investigator"], "capabilities": ["edit_case", "read_dossier", "register_case"],
    "credential": {"key_id": "3f9a0c1b2d4e", "kind": "personal", "name": "案件系统同步",
                   "expires_at": "2027-02-23T08:00:00+08:00"},
})])
class MeSerializer(StrictSerializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    display_name = serializers.CharField()
    agency = AgencyRefSerializer(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    capabilities = serializers.ListField(child=serializers.CharField())
    credential = CredentialRefSerializer(allow_null=True, help_text="The credential used, null for a session.")


# --- cases -----------------------------------------------------------------------------------


class CaseNumberSerializer(StrictModelSerializer):
    agency = serializers.CharField(source="agency.code", read_only=True)

    class Meta:
        model = CaseNumber
        fields = ("kind", "number", "agency", "issued_at")


class OffenceSerializer(StrictModelSerializer):
    class Meta:
        model = Offence
        fields = ("code", "name")


class PositionSerializer(StrictSerializer):
    """Where one suspect stands in the procedure (workflows.positions): the case's stage unless
    something recorded for this person alone (termination, judgment, non-prosecution) says otherwise."""

    code = serializers.CharField(help_text="Stable code: a stage name, or terminated, judged, "
                                           "judgment_effective, executed, non_prosecuted, case_withdrawn, "
                                           "conditional_non_prosecution, closed.")
    label = serializers.CharField(help_text="For people, in the language of Accept-Language.")
    detail = serializers.CharField(help_text="Ground, kind or operative line of the decision, or empty.")
    since = serializers.DateTimeField(allow_null=True, help_text="When the person's own position began, if it differs from the case's stage.")
    plea = serializers.BooleanField(help_text="The person pleads guilty and accepts punishment (认罪认罚, CPL art. 15).")
    plea_detail = serializers.CharField(help_text="How the plea was recorded, or empty.")


class MeasureLapseSerializer(StrictSerializer):
    """A bail or residential surveillance that ended because its period ran out (期满解除, CPL art. 79)."""

    measure = serializers.ChoiceField(choices=("bail", "residential_surveillance"))
    label = serializers.CharField(help_text="For people, e.g. 取保候审期满解除.")
    due_date = serializers.DateField(help_text="The last day of the measure's period.")
    lapsed_on = serializers.DateField(help_text="The day it ended: the day after its last day.")


class PersonSerializer(StrictModelSerializer):
    """A person; the ID number is masked unless the caller's role may see it in full."""

    id_number = serializers.SerializerMethodField()
    detention_centre = AgencyRefSerializer(read_only=True, allow_null=True)
    position = serializers.SerializerMethodField()
    measure_lapsed = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = (
            "id", "role", "name", "sex", "id_number", "birth_date", "address", "record",
            "custody_status", "custody_since", "detention_centre", "position", "measure_lapsed",
        )

    @extend_schema_field(PositionSerializer(allow_null=True))
    def get_position(self, person: Person) -> dict[str, Any] | None:
        """Null for a victim. Computed once per case and serializer (a case's persons share it)."""
        from workflows import positions

        cache = self.context.setdefault("_positions", {}) if isinstance(self.context, dict) else {}
        if person.case_id not in cache:
            cache[person.case_id] = positions.positions(person.case)
        where = cache[person.case_id].get(person.pk)
        return PositionSerializer(where.as_dict()).data if where is not None else None

    @extend_schema_field(MeasureLapseSerializer(allow_null=True, help_text=(
        "Set when custody_status is released because the bail or surveillance period ran out (art. 79), "
        "not by a decision; null otherwise.")))
    def get_measure_lapsed(self, person: Person) -> dict[str, Any] | None:
        """One query per case and serializer (the case's stopped bail/surveillance clocks)."""
        from casehub.clocks.models import Clock, ClockStatus
        from workflows import measures

        if person.custody_status != "released":
            return None
        cache = self.context.setdefault("_measure_clocks", {}) if isinstance(self.context, dict) else {}
        if person.case_id not in cache:
            by_person: dict[int, list[Any]] = {}
            for clock in Clock.objects.filter(case_id=person.case_id, kind__in=list(measures.CLOCK_OF.values()),
                                              status=ClockStatus.STOPPED, person__isnull=False):
                by_person.setdefault(clock.person_id, []).append(clock)
            cache[person.case_id] = by_person
        clock = measures.lapse_of(person, cache[person.case_id].get(person.pk, []))
        if clock is None:
            return None
        return {"measure": clock.kind, "label": measures.measure_label(person, [clock]),
                "due_date": clock.due_date, "lapsed_on": measures.lapsed_on(clock)}

    @extend_schema_field(serializers.CharField(help_text="Full, or masked like 440307********1234."))
    def get_id_number(self, person: Person) -> str:
        if self.context.get("show_id_number"):
            return person.id_number
        return person.masked_id_number


@extend_schema_serializer(examples=[OpenApiExample("detained suspect", request_only=True, value={
    "role": "suspect", "name": "张三", "sex": "M", "id_number": "440307199001011234",
    "birth_date": "1990-01-01", "custody_status": "detained", "custody_since": "2026-11-20T10:00:00+08:00",
    "detention_centre": 4,
})])
class PersonInSerializer(StrictSerializer):
    """A person to add. Checked by the same form as the UI (ID number, custody particulars)."""

    role = serializers.ChoiceField(choices=Person._meta.get_field("role").choices, default="suspect")
    name = serializers.CharField(max_length=60)
    sex = serializers.ChoiceField(choices=Person._meta.get_field("sex").choices, required=False, allow_blank=True)
    id_number = serializers.CharField(max_length=18, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)
    record = serializers.CharField(required=False, allow_blank=True)
    custody_status = serializers.ChoiceField(
        choices=Person._meta.get_field("custody_status").choices, default="not_detained"
    )
    custody_since = serializers.DateTimeField(required=False, allow_null=True)
    detention_centre = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=ID_MAX, help_text="Id of a detention-centre agency (GET /agencies/?kind=detention)."
    )

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        typed = super().to_internal_value(data)
        form_data = {k: ("" if v is None else v) for k, v in typed.items()}
        for key in ("birth_date", "custody_since"):
            if typed.get(key) is not None:
                form_data[key] = typed[key].isoformat()
        form = PersonForm(data=form_data)
        if not form.is_valid():
            raise serializers.ValidationError({
                (f if f != "__all__" else "non_field_errors"): [
                    serializers.ErrorDetail(e["message"], code=e["code"] or "invalid") for e in errs
                ]
                for f, errs in form.errors.get_json_data().items()
            })
        return dict(form.cleaned_data)


class CaseSerializer(StrictModelSerializer):
    stage_label = serializers.SerializerMethodField()
    origin_agency = AgencyRefSerializer(read_only=True)
    holder_agency = AgencyRefSerializer(read_only=True)
    numbers = CaseNumberSerializer(many=True, read_only=True)
    offences = OffenceSerializer(many=True, read_only=True)
    can_act = serializers.BooleanField(read_only=True, help_text="The caller's agency holds the case and may act.")

    class Meta:
        model = Case
        fields = (
            "id", "title", "summary", "stage", "stage_label", "status", "origin_agency", "holder_agency",
            "numbers", "offences", "occurred_on", "occurred_place", "created_at", "updated_at", "version", "can_act",
        )

    def get_stage_label(self, case: Case) -> str:
        return stage_label(case.stage)


class CaseDetailSerializer(CaseSerializer):
    persons = serializers.SerializerMethodField()
    handling_officers = serializers.SerializerMethodField()

    class Meta(CaseSerializer.Meta):
        fields = (*CaseSerializer.Meta.fields, "persons", "handling_officers")

    @extend_schema_field(PersonSerializer(many=True))
    def get_persons(self, case: Case) -> list[dict[str, Any]]:
        return PersonSerializer(case.persons.all(), many=True, context=self.context).data

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_handling_officers(self, case: Case) -> list[str]:
        return [str(u) for u in case.handling_officers.all()]


@extend_schema_serializer(examples=[OpenApiExample("register a theft case", request_only=True, value={
    "title": "张三盗窃案", "summary": "2026年11月18日夜，嫌疑人入室盗窃笔记本电脑一台。",
    "occurred_on": "2026-11-18", "occurred_place": "深圳市龙岗区布吉街道",
    "offences": ["0264"], "persons": [{"name": "张三", "sex": "M", "id_number": "440307199001011234"}],
})])
class CaseCreateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    occurred_on = serializers.DateField(required=False, allow_null=True)
    occurred_place = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    offences = serializers.SlugRelatedField(
        slug_field="code", many=True, required=False, default=list,
        queryset=Offence.objects.filter(effective_to__isnull=True),
        help_text="Codes of offences in force (GET /offences/).",
    )
    persons = PersonInSerializer(many=True, required=False, default=list, max_length=50)


# --- audit -----------------------------------------------------------------------------------


class AuditEventSerializer(StrictModelSerializer):
    class Meta:
        model = AuditEvent
        fields = (
            "sequence", "occurred_at", "actor_label", "agency", "action", "object_type", "object_id",
            "case_id", "details", "previous_hash", "hash",
        )


# --- credentials and tasks ---------------------------------------------------------------------


class CredentialSerializer(StrictModelSerializer):
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiCredential
        fields = (
            "id", "key_id", "kind", "name", "role", "throttle_rate", "created_at", "expires_at", "revoked_at",
            "last_used_at", "is_active",
        )


class IssuedCredentialSerializer(CredentialSerializer):
    token = serializers.CharField(read_only=True, required=False, help_text=(
        "Shown once; only its hash is stored. Absent from an Idempotency-Key replay "
        "(header Idempotent-Secret-Withheld: token)."))

    class Meta(CredentialSerializer.Meta):
        fields = (*CredentialSerializer.Meta.fields, "token")


class PersonalTokenCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, help_text="What the token is for.")
    expires_in_days = serializers.IntegerField(
        min_value=1, default=90, help_text="Lifetime in days; at most CASEHUB_API_TOKEN_MAX_DAYS (730 by default).")


class ClientCreateSerializer(PersonalTokenCreateSerializer):
    role = serializers.ChoiceField(choices=Role.choices, help_text="The role the client acts as; must exist "
                                   "in your agency's kind.")
    throttle_rate = serializers.RegexField(
        r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$", required=False, allow_blank=True, default="",
        help_text="Own rate limit, e.g. `6000/hour`; empty uses the default for clients.",
        error_messages={"invalid": _("限流格式应为 “次数/时间单位”，例如 600/min。")},
    )


class TaskErrorSerializer(StrictSerializer):
    code = serializers.CharField()
    message = serializers.CharField()


@extend_schema_serializer(examples=[OpenApiExample("running", response_only=True, value={
    "id": "0b7e1a9c-2d1f-4d59-8f43-2f1b8f0b5a11", "kind": "dossier.ingest", "status": "running", "progress": 40,
    "step": "count_pages", "result": None, "error": None, "created_at": "2026-11-25T16:00:00+08:00",
    "updated_at": "2026-11-25T16:00:02+08:00", "finished_at": None,
})])
class TaskSerializer(StrictModelSerializer):
    """Long work: poll until ``status`` is ``succeeded`` (see ``result``) or ``failed`` (see ``error``)."""

    result = serializers.JSONField(allow_null=True, read_only=True)
    error = TaskErrorSerializer(allow_null=True, read_only=True)
    stalled = serializers.SerializerMethodField(
        help_text="Unfinished and without progress for twice the broker's redelivery time "
                  "(CASEHUB_TASK_VISIBILITY_TIMEOUT): the work was lost; `POST .../retry/` queues it again.")

    class Meta:
        model = ApiTask
        fields = ("id", "kind", "status", "progress", "step", "result", "error", "stalled", "created_at",
                  "updated_at", "finished_at")

    def get_stalled(self, task: ApiTask) -> bool:
        return False  # replaced by the current state below

    def to_representation(self, task: ApiTask) -> dict[str, Any]:
        from casehub.api.tasks import current_state

        data = super().to_representation(task)
        state = current_state(task)
        data.update({k: v for k, v in state.items() if k != "finished_at"})
        if state.get("finished_at") is not None:
            data["finished_at"] = serializers.DateTimeField().to_representation(state["finished_at"])
        return data
