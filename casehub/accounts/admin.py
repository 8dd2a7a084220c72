"""Django admin: superusers manage agencies; an agency administrator manages their own agency's users only."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from casehub.accounts.services import check_role_lock, set_roles, validate_roles
from casehub.agencies.models import Agency, Role, User
from casehub.agencies.permissions import MANAGE_AGENCY_USERS, ROLES_BY_AGENCY_KIND, has_capability
from casehub.audit.services import record_event


def _is_agency_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.agency_id and has_capability(user, MANAGE_AGENCY_USERS))


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "level", "code", "region", "parent", "abbreviation", "court_code",
                    "require_second_factor")
    list_filter = ("kind", "level")
    search_fields = ("name", "code", "region")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    has_add_permission = has_change_permission = has_delete_permission = (
        lambda self, request, obj=None: request.user.is_superuser
    )

    def save_model(self, request: HttpRequest, obj: Agency, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record_event("agency.changed" if change else "agency.created", actor=request.user, agency=obj, obj=obj,
                     details={"fields": sorted(form.changed_data)})


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple


class AgencyUserForm(forms.ModelForm):
    roles = RolesField(label=_("角色"), choices=Role.choices, required=False)

    class Meta:
        model = User
        fields = ("username", "display_name", "badge_number", "email", "is_active", "agency")

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        if self.instance.pk:
            self.fields["roles"].initial = sorted(self.instance.roles)
        if request is not None and not request.user.is_superuser:
            agency = request.user.agency
            self.fields["agency"].queryset = Agency.objects.filter(pk=agency.pk)
            self.fields["agency"].initial = agency.pk
            self.fields["agency"].disabled = True
            allowed = ROLES_BY_AGENCY_KIND[agency.kind]
            self.fields["roles"].choices = [(v, label) for v, label in Role.choices if v in allowed]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        agency = data.get("agency")
        try:
            validate_roles(agency, data.get("roles") or [])
            check_role_lock(self.instance, data.get("roles") or [])
        except ValidationError as exc:
            self.add_error("roles", exc)
        return data


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "agency", "is_active", "last_login")
    list_filter = ("is_active", "agency__kind")
    search_fields = ("username", "display_name", "badge_number")
    ordering = ("username",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        qs = super().get_queryset(request).select_related("agency")
        if request.user.is_superuser:
            return qs
        if _is_agency_admin(request):
            # Only ordinary accounts of one's own agency: never superusers or other agencies' staff.
            return qs.filter(agency_id=request.user.agency_id, is_superuser=False)
        return qs.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or _is_agency_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_manage(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_manage(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or _is_agency_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts are deactivated, never deleted: the audit trail refers to them.
        return False

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        """Django's "set this user's password" page: not for agency administrators.

        An administrator who could set an investigator's (or a system client's service account's)
        password could sign in as them, and the trail would show only that person's login. The
        administrator forces a reset instead (:meth:`force_password_change`), which the user completes.
        """
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    @admin.action(description=_("要求下次登录时修改密码"))
    def force_password_change(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset.filter(password_change_required=False):
            user.password_change_required = True
            user.save(update_fields=["password_change_required"])  # audited and notified by the receiver
        self.message_user(request, _("所选用户下次登录时须先修改密码。"))

    actions = ["force_password_change"]

    def _may_manage(self, request: HttpRequest, obj: Any) -> bool:
        if request.user.is_superuser:
            return True
        if not _is_agency_admin(request):
            return False
        return obj is None or (obj.agency_id == request.user.agency_id and not obj.is_superuser)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if request.user.is_superuser:
            return super().get_form(request, obj, change=change, **kwargs)
        base = AgencyUserForm

        class _Form(base):  # bind the request so the form limits agency and roles
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, request=request, **kw)

        return _Form

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return ((None, {"fields": ("username", "display_name", "badge_number", "email", "is_active", "agency", "roles")}),)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        return () if request.user.is_superuser else ("last_login",)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            obj.agency = request.user.agency
            obj.is_superuser = False
            obj.is_staff = Role.AGENCY_ADMIN in (form.cleaned_data.get("roles") or [])
            if not change:
                obj.set_unusable_password()
        super().save_model(request, obj, form, change)
        record_event("user.changed" if change else "user.created", actor=request.user, agency=obj.agency, obj=obj,
                     details={"username": obj.username, "fields": sorted(form.changed_data)})
        if "roles" in form.cleaned_data:
            set_roles(obj, form.cleaned_data["roles"], acting_user=request.user)
