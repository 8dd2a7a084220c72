"""The change feed (``/api/v1/events/``) and webhook subscriptions (``/api/v1/webhooks/``).

The feed is read per agency: a caller sees the entries written for its own agency, in sequence
order, from the cursor it passes. Webhook endpoints belong to an agency; a system client manages
its own, an agency administrator sees and manages all of the agency's, and only an administrator
may let an endpoint point into a private network.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from casehub.agencies import permissions as p
from casehub.agencies.doors import ListDoor, any_capability
from casehub.api.doors import DOOR_PERMISSIONS
from casehub.api.idempotency import idempotent
from casehub.api.models import CredentialKind
from casehub.api.strict import QueryFilter, StrictModelSerializer, StrictSerializer
from casehub.audit.services import record_event
from casehub.integration import webhooks
from casehub.integration.catalogue import EVENT_TYPES
from casehub.integration.models import FeedEntry, WebhookDelivery, WebhookEndpoint

FEED_READERS = (p.READ_DOSSIER, p.ACKNOWLEDGE_CUSTODY, p.VIEW_DETAINEES)
FEED_PAGE_MAX = 500


def _client_credential(request: Request) -> Any:
    cred = getattr(request, "auth", None)
    return cred if getattr(cred, "kind", None) == CredentialKind.CLIENT else None


def _is_admin(user: Any) -> bool:
    return p.has_capability(user, p.MANAGE_AGENCY_USERS)


# The lists of this module (casehub.agencies.doors): 403 with the reason to a role that reads none.
FEED = ListDoor("integration.feed", lambda user: bool(user.agency_id) and any_capability(*FEED_READERS)(user),
                lambda: _("您的角色无权读取变更事件。"))
# A system client manages its own endpoints whatever its user's roles (the view lets it through).
WEBHOOK_MANAGERS = ListDoor("integration.webhooks", _is_admin, lambda: _("只有系统客户端或机构管理员可以管理推送地址。"))


# --- the feed ------------------------------------------------------------------------------------


class FeedQuery(QueryFilter):
    after = serializers.IntegerField(min_value=0, required=False, default=0,
                                     help_text="Return entries with a sequence greater than this cursor.")
    limit = serializers.IntegerField(min_value=1, max_value=FEED_PAGE_MAX, required=False, default=100)
    type = serializers.MultipleChoiceField(choices=sorted(EVENT_TYPES), required=False,
                                           help_text="Only these event types (repeat the parameter).")


class FeedEntrySerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="event_id", help_text="Unique per delivery target; webhook-id carries it.")

    class Meta:
        model = FeedEntry
        fields = ["sequence", "id", "type", "occurred_at", "case_id", "data"]


class FeedPageSerializer(StrictSerializer):
    events = FeedEntrySerializer(many=True)
    next_after = serializers.IntegerField(help_text="Pass as ?after= to continue; unchanged when empty.")
    has_more = serializers.BooleanField()


class EventFeedView(APIView):
    """Events the caller's agency may see, oldest first, after a durable cursor."""

    @extend_schema(
        summary="The change feed: events for your agency after a cursor",
        parameters=[FeedQuery], responses={200: FeedPageSerializer},
        description="The cursor is the event's sequence: a client that stores the last `next_after` it "
                    "processed resumes there after any downtime — nothing is lost and nothing comes twice. "
                    "See docs/api.md for the event catalogue.",
    )
    def get(self, request: Request) -> Response:
        user = request.user
        FEED.check(user)
        query = FeedQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        after, limit = query.validated_data["after"], query.validated_data["limit"]
        qs = FeedEntry.objects.filter(agency_id=user.agency_id, sequence__gt=after)
        if query.validated_data.get("type"):
            qs = qs.filter(type__in=query.validated_data["type"])
        rows = list(qs.order_by("sequence", "position")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        # One audit event can make several entries for an agency (e.g. a transition and its package):
        # never end a page inside a sequence, or the cursor would skip the rest of it.
        if has_more and rows:
            last = rows[-1].sequence
            rest = list(qs.filter(sequence=last).exclude(pk__in=[r.pk for r in rows if r.sequence == last])
                        .order_by("position"))
            rows.extend(rest)
        next_after = rows[-1].sequence if rows else after
        body = {"events": FeedEntrySerializer(rows, many=True).data, "next_after": next_after, "has_more": has_more}
        return Response(body)


# --- webhooks -----------------------------------------------------------------------------------


class EndpointSerializer(StrictModelSerializer):
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)),
                                        allow_empty=False, max_length=len(EVENT_TYPES))
    client = serializers.CharField(source="credential.key_id", read_only=True, default=None, allow_null=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "event_types", "description", "active", "allow_private_network", "client",
                  "created_at"]
        read_only_fields = ["id", "client", "created_at"]

    def validate_event_types(self, value: list[str]) -> list[str]:
        return sorted(set(value))


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: verify webhook-signature with it.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class DeliveredEventSerializer(FeedEntrySerializer):
    """The event without its data: delivery history is read by agency administrators, who manage
    the connection but do not see case particulars (numbers included)."""

    class Meta(FeedEntrySerializer.Meta):
        fields = ["sequence", "id", "type", "occurred_at"]


class DeliverySerializer(StrictModelSerializer):
    event = DeliveredEventSerializer(source="entry", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "status", "attempts", "next_attempt_at", "last_attempt_at", "last_status_code",
                  "last_error", "delivered_at", "event"]


class DeliveryQuery(QueryFilter):
    status = serializers.ChoiceField(choices=["pending", "delivered", "retrying", "dead"], required=False)


@extend_schema_view(
    list=extend_schema(summary="Webhook endpoints of your agency"),
    retrieve=extend_schema(summary="One webhook endpoint"),
    create=extend_schema(summary="Register a webhook endpoint (the signing secret is shown once)",
                         responses={201: EndpointCreatedSerializer}),
    partial_update=extend_schema(summary="Change an endpoint's address, event types or state"),
    destroy=extend_schema(summary="Deactivate a webhook endpoint (its history is kept)"),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                             mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = EndpointSerializer
    queryset = WebhookEndpoint.objects.none()
    ordering = "-id"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    # The one rule (casehub.agencies.doors): listing and registering endpoints is 403 to anyone but
    # a system client or the agency's administrator; one endpoint they may not see is 404.
    permission_classes = DOOR_PERMISSIONS
    list_door_actions = ("list", "create")

    @property
    def list_door(self) -> ListDoor | None:
        return None if _client_credential(self.request) else WEBHOOK_MANAGERS

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        if not (_client_credential(self.request) or _is_admin(self.request.user)):
            return WebhookEndpoint.objects.none()
        qs = WebhookEndpoint.objects.filter(agency_id=self.request.user.agency_id).select_related("credential")
        client = _client_credential(self.request)
        if client is not None and not _is_admin(self.request.user):
            qs = qs.filter(credential=client)  # another client's endpoint is 404
        return qs.order_by("id")

    def _check(self, url: str, allow_private: bool) -> None:
        if allow_private and not _is_admin(self.request.user):
            raise exceptions.PermissionDenied(_("只有机构管理员可以允许内网推送地址。"))
        try:
            webhooks.check_url(url, allow_private_network=allow_private)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"url": exc.messages}) from None

    @idempotent(secret_fields=("secret",))
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = EndpointSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self._check(data["url"], data.get("allow_private_network", False))
        secret = webhooks.new_secret()
        with transaction.atomic():
            endpoint = WebhookEndpoint.objects.create(
                agency=request.user.agency, credential=_client_credential(request), created_by=request.user,
                encrypted_secret=webhooks.seal_secret(secret, request.user.agency_id), **data,
            )
            record_event("webhook.registered", actor=request.user, obj=endpoint,
                         details={"url": endpoint.url, "event_types": endpoint.event_types,
                                  "allow_private_network": endpoint.allow_private_network})
        body = EndpointSerializer(endpoint).data | {"secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        serializer = EndpointSerializer(endpoint, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        allow = data.get("allow_private_network", endpoint.allow_private_network)
        if "url" in data or data.get("allow_private_network") != endpoint.allow_private_network:
            self._check(data.get("url", endpoint.url), allow)
        with transaction.atomic():
            fields = sorted(data)  # never the cursor or lease: the delivery worker moves those
            if data.get("active") and not endpoint.active:
                endpoint.start_at_now()  # a re-enabled endpoint gets nothing of the time it was off
                fields += ["cursor_sequence", "cursor_position"]
            for name, value in data.items():
                setattr(endpoint, name, value)
            if fields:
                endpoint.save(update_fields=fields)
            record_event("webhook.changed", actor=request.user, obj=endpoint, details={"fields": sorted(data)})
        return Response(EndpointSerializer(endpoint).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        endpoint = self.get_object()
        with transaction.atomic():
            endpoint.active = False
            endpoint.save(update_fields=["active"])
            record_event("webhook.deactivated", actor=request.user, obj=endpoint, details={"url": endpoint.url})
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Rotate the signing secret (the new one is shown once)", request=None,
                   responses={200: EndpointCreatedSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent(secret_fields=("secret",))
    def rotate_secret(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        secret = webhooks.new_secret()
        with transaction.atomic():
            endpoint.encrypted_secret = webhooks.seal_secret(secret, endpoint.agency_id)
            endpoint.save(update_fields=["encrypted_secret"])
            record_event("webhook.secret_rotated", actor=request.user, obj=endpoint, details={})
        return Response(EndpointSerializer(endpoint).data | {"secret": secret})

    @extend_schema(summary="Delivery history of an endpoint, newest first",
                   parameters=[DeliveryQuery], responses={200: DeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        endpoint = self.get_object()
        query = DeliveryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        qs = endpoint.deliveries.select_related("entry").order_by("-id")
        if query.validated_data.get("status"):
            qs = qs.filter(status=query.validated_data["status"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)

    @extend_schema(summary="Send one delivery again now (same webhook-id)", request=None,
                   parameters=[OpenApiParameter("delivery_pk", int, OpenApiParameter.PATH)],
                   responses={202: DeliverySerializer})
    @action(detail=True, methods=["post"], url_path=r"deliveries/(?P<delivery_pk>[0-9]{1,18})/replay")
    @idempotent
    def replay(self, request: Request, pk: str | None = None, delivery_pk: str | None = None) -> Response:
        endpoint = self.get_object()
        delivery = endpoint.deliveries.filter(pk=delivery_pk).first()
        if delivery is None:
            raise exceptions.NotFound()
        with transaction.atomic():
            record_event("webhook.replayed", actor=request.user, obj=endpoint,
                         details={"delivery": delivery.pk, "event": str(delivery.entry.event_id)})
            webhooks.replay(delivery)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- bulk exchange -----------------------------------------------------------------------------


class TransferArchiveView(APIView):
    """One transfer package as a ZIP archive, verifiable offline with ``casehub-verify``."""

    @extend_schema(
        summary="A transfer package as one ZIP archive (manifest, signatures, receipt, documents, volumes)",
        responses={(200, "application/zip"): bytes},
        description="Verify it offline with `casehub-verify PACKAGE.zip --trust TRUST.pem` (see docs/api.md). "
                    "The sender may fetch it at any time; the receiver once it has accepted the package or it "
                    "was delivered. The manifest carries identity numbers: the caller's role must see them.",
    )
    def get(self, request: Request, pk: str) -> Any:
        from django.http import FileResponse

        from casehub.transfers.doors import TRANSFERS

        user = request.user
        # The package door (casehub.transfers.doors): 404 for a package the caller may not see,
        # 403 with the reason for one they see but may not take away whole.
        transfer = TRANSFERS.get(user, pk, "archive")
        if not transfer.manifest_bytes:
            raise exceptions.NotFound(_("纸质移送登记没有电子移送包。"))
        from casehub.integration.archive import write_archive

        archive = write_archive(transfer)
        record_event("transfer.archive_downloaded", actor=user, obj=transfer, case=transfer.case_id,
                     details={"manifest_sha256": transfer.manifest_sha256})
        return FileResponse(archive, as_attachment=True, filename=f"transfer-{transfer.pk}.zip",
                            content_type="application/zip")


class PackageSubmissionSerializer(StrictSerializer):
    archive = serializers.FileField(help_text="ZIP: manifest.json (format casehub.agency-package/1), manifest.p7s, "
                                              "documents/<sha256>.pdf")


class SubmittedPackageSerializer(StrictSerializer):
    id = serializers.IntegerField()
    case = serializers.IntegerField(source="case_id")
    manifest_sha256 = serializers.CharField()
    signer = serializers.CharField()
    submitted_at = serializers.DateTimeField()
    jobs = serializers.SerializerMethodField()

    def get_jobs(self, obj: Any) -> list[dict[str, Any]]:
        return [{"id": str(j.pk), "title": j.title, "status": j.status} for j in obj.jobs.order_by("created_at")]


class PackageSubmissionView(APIView):
    """An agency system submits a package it assembled and signed itself."""

    @extend_schema(
        summary="Submit a package your agency system assembled and signed (checked like the platform's own)",
        request={"multipart/form-data": PackageSubmissionSerializer}, responses={201: SubmittedPackageSerializer},
        description="The manifest must be signed by your agency's certificate (issued or imported by the "
                    "platform PKI), name this case and your agency, and list every document with its SHA-256 and "
                    "size. The whole package is refused (400, every problem named, nothing stored) unless every "
                    "check passes; then each document enters the dossier through the ingest pipeline. See "
                    "docs/api.md.",
    )
    @idempotent
    def post(self, request: Request, case_pk: str) -> Response:
        import tempfile
        from pathlib import Path

        from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

        from casehub.dossier.doors import DOSSIERS
        from casehub.integration.submission import PackageRefused, submit_package

        # The dossier door: 404 for a case the caller may not see, 403 (before the body is looked
        # at) for one they see but may not add documents to (main file).
        case = DOSSIERS.get(request.user, case_pk, "upload")
        form = PackageSubmissionSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        with tempfile.TemporaryDirectory(prefix="casehub-package-") as tmp:
            path = Path(tmp) / "package.zip"
            with path.open("wb") as out:
                for chunk in form.validated_data["archive"].chunks():
                    out.write(chunk)
            try:
                package = submit_package(case=case, acting_user=request.user, archive_path=path)
            except DjangoPermissionDenied as exc:
                raise exceptions.PermissionDenied(str(exc)) from None
            except PackageRefused as exc:
                raise serializers.ValidationError({"archive": exc.messages}) from None
        return Response(SubmittedPackageSerializer(package).data, status=status.HTTP_201_CREATED)
