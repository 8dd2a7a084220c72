"""Audit events for things that do not pass through a casehub service function.

* Authentication: Django's ``user_logged_in`` / ``user_logged_out`` / ``user_login_failed`` and
  django-axes' ``user_locked_out``.
* Account changes: password, active, agency, superuser, e-mail, user name and a forced reset (a
  ``pre_save``/``post_save`` pair on the user), and second-factor devices added or removed; the user
  is notified of each, so a change they did not make shows at once.
* Permission changes: every row added to or removed from a django-guardian object-permission
  table (per-case grants made by the workflow engine, and any other object permission), and every
  change of a user's groups or of a user's or group's model permissions (roles, agency membership,
  admin edits). Signals fire for ``Model.save``, ``QuerySet.delete`` (Django sends ``post_delete``
  per row when a receiver is connected) and ``m2m`` ``add/remove/set/clear``; they do not fire for
  ``bulk_create`` or ``QuerySet.update``, which is why services must not use those on permission
  tables (casehub/cases/access.py does not).

Each receiver writes its event with :func:`record_event`, in the transaction of the change it
records (the signal runs inside it), so the permission change and its audit row commit together.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.utils.translation import gettext_lazy as _

from casehub.addresses import client_address
from casehub.audit.services import record_event

USER_AGENT_MAX = 200


def client_ip(request: Any) -> str:
    """The address the request came from (``casehub.addresses``: CASEHUB_PROXY_COUNT decides)."""
    if request is None:
        return ""
    return client_address(request)


def _request_details(request: Any) -> dict[str, Any]:
    if request is None:
        return {}
    return {"ip": client_ip(request), "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX]}


def _user_named(username: str | None) -> Any:
    if not username:
        return None
    return get_user_model().objects.filter(username=username).select_related("agency").first()


def on_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_event("auth.login", actor=user, obj=user, details=_request_details(request))


def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:  # logging out a session that was not logged in changes nothing
        return
    record_event("auth.logout", actor=user, obj=user, details=_request_details(request))


def on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Django has already replaced the password in ``credentials`` with stars; only the name is kept.
    username = str(credentials.get("username", ""))[:150]
    target = _user_named(username)
    record_event(
        "auth.login_failed", agency=getattr(target, "agency", None), obj=target,
        details={"username": username, "known_user": target is not None, **_request_details(request)},
    )


def on_locked_out(sender: Any, request: Any = None, username: str | None = None, ip_address: str | None = None,
                  **kwargs: Any) -> None:
    target = _user_named(username)
    record_event(
        "auth.locked_out", agency=getattr(target, "agency", None), obj=target,
        details={"username": username or "", "ip": ip_address or client_ip(request)},
    )


# --- object permissions (django-guardian) ----------------------------------------------------------

def _object_permission_event(instance: Any, action: str) -> None:
    group = getattr(instance, "group", None)
    user = getattr(instance, "user", None)
    object_id = getattr(instance, "content_object_id", None)
    if object_id is None:
        object_id = getattr(instance, "object_pk", None)
    field = instance._meta.get_field("content_object")
    target_model = getattr(field, "related_model", None)
    if target_model is not None:
        target_label = target_model._meta.label_lower
    else:  # guardian's generic tables name the type per row
        target_label = instance.content_type.model_class()._meta.label_lower
    agency = getattr(group, "agency", None) if group is not None else getattr(user, "agency", None)
    record_event(
        action, agency=agency, obj=instance,
        case=int(object_id) if target_label == "cases.case" and object_id is not None else None,
        details={
            "permission": instance.permission.codename,
            "object": f"{target_label}#{object_id}",
            "group": group.name if group is not None else None,
            "user": user.get_username() if user is not None else None,
        },
    )


def on_object_permission_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        _object_permission_event(instance, "permission.granted")


def on_object_permission_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _object_permission_event(instance, "permission.revoked")


# --- account changes (password, active, agency, second factor, …) -----------------------------------

# What of an account is watched; roles are recorded by casehub.accounts.services.set_roles.
ACCOUNT_FIELDS = ("password", "is_active", "agency_id", "is_superuser", "email", "username",
                  "password_change_required")
ACCOUNT_FIELD_LABELS = {
    "password": _("密码"), "is_active": _("启用状态"), "agency_id": _("所属机构"), "is_superuser": _("超级用户"),
    "email": _("电子邮箱"), "username": _("用户名"), "password_change_required": _("须修改密码"),
    "second_factor": _("双因素认证设备"), "roles": _("角色"),
}


def notify_account_holder(user: Any, fields: list[str], event: Any) -> None:
    """Tell the user their account changed (in the app, and by e-mail where configured): a change
    they did not make — by an administrator, or by someone who took their password — shows at once."""
    from django.utils.translation import gettext_noop

    from casehub.notifications.messages import message
    from casehub.notifications.services import notify

    names = "、".join(str(ACCOUNT_FIELD_LABELS.get(f, f)) for f in fields)
    notify([user], kind="account", title=message(gettext_noop("您的账户已变更")),
           body=message(gettext_noop("变更内容：%(fields)s。如非本人所为，请立即联系本机构管理员。"), fields=names),
           key=f"account:{event.sequence}")


def on_user_pre_save(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if instance.pk is None or (update_fields is not None and not set(update_fields) & {
            f.removesuffix("_id") for f in ACCOUNT_FIELDS} | set(ACCOUNT_FIELDS)):
        instance._account_before = None  # e.g. last_login on every sign-in: nothing watched changes
        return
    instance._account_before = sender.objects.filter(pk=instance.pk).values(*ACCOUNT_FIELDS).first()


def on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    before = getattr(instance, "_account_before", None)
    instance._account_before = None
    if created or not before:
        return
    changed = [f for f in ACCOUNT_FIELDS if getattr(instance, f) != before[f]]
    if not changed:
        return
    from casehub.audit.middleware import acting_user

    actor = acting_user()
    details: dict[str, Any] = {"username": instance.get_username(), "fields": changed,
                               "by_the_user": actor is not None and actor.pk == instance.pk}
    for field in changed:
        if field not in ("password",):  # never a password hash in the trail
            details[field] = {"before": before[field], "after": getattr(instance, field)}
    event = record_event("user.account_changed", actor=actor, agency=instance.agency_id or before["agency_id"],
                         obj=instance, details=details)
    if changed != ["password_change_required"] or instance.password_change_required:
        notify_account_holder(instance, changed, event)


def _device_event(instance: Any, change: str) -> None:
    from casehub.audit.middleware import acting_user

    user = instance.user
    event = record_event("user.second_factor_changed", actor=acting_user(), agency=user.agency, obj=user, details={
        "username": user.get_username(), "device": type(instance).__name__, "name": instance.name, "change": change,
    })
    notify_account_holder(user, ["second_factor"], event)


def on_device_pre_save(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._was_confirmed = bool(instance.pk and sender.objects.filter(pk=instance.pk, confirmed=True).exists())


def on_device_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    # An enrolment starts with an unconfirmed device (the verify page creates one); the second
    # factor exists once the device is confirmed.
    if instance.confirmed and not getattr(instance, "_was_confirmed", False):
        _device_event(instance, "added")


def on_device_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.confirmed:
        _device_event(instance, "removed")


# --- groups and model permissions ------------------------------------------------------------------

_M2M_ACTIONS = {"post_add": "added", "post_remove": "removed", "post_clear": "cleared"}


def _names(model: Any, pks: set[Any] | None) -> list[str]:
    if not pks:
        return []
    if model is Permission:
        return sorted(f"{a}.{c}" for a, c in Permission.objects.filter(pk__in=pks)
                      .values_list("content_type__app_label", "codename"))
    return sorted(model.objects.filter(pk__in=pks).values_list("name", flat=True))


def _m2m_receiver(event_action: str, owner_field: str) -> Any:
    def receiver(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: set[Any] | None,
                 **kwargs: Any) -> None:
        change = _M2M_ACTIONS.get(action)
        if change is None or (change != "cleared" and not pk_set):
            return
        if reverse:  # e.g. group.user_set.add(user): the "instance" is the group
            owner_label = f"{model._meta.label_lower}#{','.join(str(pk) for pk in sorted(pk_set or []))}"
            names = [getattr(instance, "name", str(instance))]
            agency = getattr(instance, "agency", None) if isinstance(instance, Group) else None
        else:
            owner_label = f"{instance._meta.label_lower}#{instance.pk}"
            names = _names(model, pk_set)
            agency = getattr(instance, "agency", None)
        record_event(event_action, agency=agency, obj=instance if not reverse else None, details={
            owner_field: owner_label, "change": change, "items": names,
        })

    return receiver


on_user_groups_changed = _m2m_receiver("permission.groups_changed", "user")
on_user_permissions_changed = _m2m_receiver("permission.user_permissions_changed", "user")
on_group_permissions_changed = _m2m_receiver("permission.group_permissions_changed", "group")


def connect() -> None:
    """Connect every receiver (AuditConfig.ready). ``dispatch_uid`` keeps it idempotent."""
    user_logged_in.connect(on_logged_in, dispatch_uid="audit.login")
    user_logged_out.connect(on_logged_out, dispatch_uid="audit.logout")
    user_login_failed.connect(on_login_failed, dispatch_uid="audit.login_failed")
    from axes.signals import user_locked_out

    user_locked_out.connect(on_locked_out, dispatch_uid="audit.locked_out")

    from guardian.models.models import BaseObjectPermission

    for model in apps.get_models():
        if issubclass(model, BaseObjectPermission) and not model._meta.abstract:
            label = model._meta.label_lower
            post_save.connect(on_object_permission_saved, sender=model, dispatch_uid=f"audit.perm_saved.{label}")
            post_delete.connect(on_object_permission_deleted, sender=model, dispatch_uid=f"audit.perm_deleted.{label}")

    user_model = get_user_model()
    pre_save.connect(on_user_pre_save, sender=user_model, dispatch_uid="audit.user_pre_save")
    post_save.connect(on_user_saved, sender=user_model, dispatch_uid="audit.user_saved")
    from django_otp.models import Device

    for model in apps.get_models():
        if issubclass(model, Device) and not model._meta.abstract:
            label = model._meta.label_lower
            pre_save.connect(on_device_pre_save, sender=model, dispatch_uid=f"audit.device_pre_save.{label}")
            post_save.connect(on_device_saved, sender=model, dispatch_uid=f"audit.device_saved.{label}")
            post_delete.connect(on_device_deleted, sender=model, dispatch_uid=f"audit.device_deleted.{label}")
    m2m_changed.connect(on_user_groups_changed, sender=user_model.groups.through, dispatch_uid="audit.user_groups")
    m2m_changed.connect(on_user_permissions_changed, sender=user_model.user_permissions.through,
                        dispatch_uid="audit.user_permissions")
    m2m_changed.connect(on_group_permissions_changed, sender=Group.permissions.through,
                        dispatch_uid="audit.group_permissions")
