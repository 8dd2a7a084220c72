"""The API under /api/v1/: resources, the OpenAPI schema and its interactive docs (local assets)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from casehub.api import clocks, custody, custody_terms, dossier, integration, separation, views, workflow
from casehub.api.errors import not_found_view

app_name = "api"

class Router(SimpleRouter):
    """Object ids in URLs are row ids: at most 18 digits (a bigint), so a longer or non-numeric id
    never reaches the database — it is the API's JSON 404. Viewsets keyed otherwise (UUIDs) say so."""

    def __init__(self) -> None:
        super().__init__()
        self._default_value_pattern = "[0-9]{1,18}"


router = Router()
router.register("agencies", views.AgencyViewSet, basename="agency")
router.register("offences", views.OffenceViewSet, basename="offence")
router.register("cases", views.CaseViewSet, basename="case")
router.register(r"cases/(?P<case_pk>[0-9]{1,18})/persons", views.PersonViewSet, basename="case-person")
router.register("audit/events", views.AuditEventViewSet, basename="audit-event")
router.register("audit/verifications", views.VerificationViewSet, basename="audit-verification")
router.register(r"cases/(?P<case_pk>[0-9]{1,18})/documents", dossier.CaseDocumentViewSet, basename="case-document")
router.register(r"cases/(?P<case_pk>[0-9]{1,18})/volumes", dossier.CaseVolumeViewSet, basename="case-volume")
router.register("documents", dossier.DocumentViewSet, basename="document")
router.register("uploads", dossier.UploadViewSet, basename="upload")
router.register("volumes", dossier.VolumeViewSet, basename="volume")
router.register(r"cases/(?P<case_pk>[0-9]{1,18})/clocks", clocks.CaseClockViewSet, basename="case-clock")
router.register("clocks", clocks.ClockViewSet, basename="clock")
router.register("notifications", clocks.NotificationViewSet, basename="notification")
router.register(r"cases/(?P<case_pk>[0-9]{1,18})/custody", custody.CaseCustodyViewSet, basename="case-custody")
router.register("custody/detainees", custody.DetaineeViewSet, basename="custody-detainee")
router.register("custody/certificates", custody.CertificateViewSet, basename="custody-certificate")
router.register("custody/notices", custody.NoticeViewSet, basename="custody-notice")
router.register("custody/extensions", custody_terms.ExtensionViewSet, basename="custody-extension")
router.register("approvals", workflow.ApprovalViewSet, basename="approval")
router.register("transfers", workflow.TransferViewSet, basename="transfer")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("tokens", views.PersonalTokenViewSet, basename="token")
router.register("clients", views.ClientViewSet, basename="client")
router.register("webhooks", integration.WebhookEndpointViewSet, basename="webhook")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves Swagger UI's start-up script from ?script instead of inline (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("me/", views.MeView.as_view(), name="me"),
    path("metrics/", custody.MetricsView.as_view(), name="metrics"),
    path("events/", integration.EventFeedView.as_view(), name="events"),
    path("transfers/<int:pk>/archive/", integration.TransferArchiveView.as_view(), name="transfer-archive"),
    path("cases/<int:case_pk>/packages/", integration.PackageSubmissionView.as_view(), name="case-package-submit"),
    path("cases/<int:case_pk>/split/", separation.SplitView.as_view(), name="case-split"),
    path("cases/<int:case_pk>/join/", separation.JoinView.as_view(), name="case-join"),
    path("cases/<int:case_pk>/persons/<int:person_pk>/custody-terms/", custody_terms.PersonCustodyTermsView.as_view(),
         name="case-person-custody-terms"),
    path("documents/<int:pk>/concerns/", separation.DocumentConcernsView.as_view(), name="document-concerns"),
    *workflow.action_urlpatterns(),
    path("", include(router.urls)),
    # Anything else under /api/v1/ is the API's JSON 404, not the UI's HTML page.
    re_path(r"^[\s\S]*$", not_found_view),  # not ".": a path with an encoded newline is still ours
]
