"""Managing users of an agency: create them, hand out roles. Each runs in one transaction and is audited."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from casehub.agencies.models import Agency, Role, User
from casehub.agencies.permissions import ROLES_BY_AGENCY_KIND, role_group_name
from casehub.audit.services import record_event

# Lookups of a role another part of the platform fixed for an account: a system client's service
# account acts only as the role the client was registered with. casehub.api registers its lookup
# here at start-up (accounts sits below the API and does not import it).
ROLE_LOCKS: list[Callable[[User], str | None]] = []


def locked_role(user: User) -> str | None:
    """The one role ``user`` must hold, or None when its roles are free to change."""
    if user.pk is None:
        return None
    for lookup in ROLE_LOCKS:
        role = lookup(user)
        if role is not None:
            return role
    return None


def check_role_lock(user: User, roles: Iterable[str]) -> None:
    locked = locked_role(user)
    if locked is not None and sorted(set(roles)) != [locked]:
        raise ValidationError(_("这是系统客户端的服务账户，角色固定为登记时的 %(role)s。") % {"role": locked})


def validate_roles(agency: Agency | None, roles: Iterable[str]) -> list[str]:
    roles = sorted(set(roles))
    if agency is None:
        if roles:
            raise ValidationError(_("没有所属机构的用户不能持有角色。"))
        return roles
    allowed = ROLES_BY_AGENCY_KIND[agency.kind]
    wrong = [r for r in roles if r not in allowed]
    if wrong:
        raise ValidationError(
            _("角色 %(roles)s 不适用于%(kind)s。") % {"roles": ", ".join(wrong), "kind": agency.get_kind_display()}
        )
    return roles


@transaction.atomic
def set_roles(user: User, roles: Iterable[str], *, acting_user: User | None) -> None:
    """Replace the user's roles with ``roles`` (validated against the agency kind and any role lock)."""
    roles = validate_roles(user.agency, roles)
    check_role_lock(user, roles)
    before = sorted(user.roles)
    role_groups = list(Group.objects.filter(name__in=[role_group_name(r) for r in roles]))
    if len(role_groups) != len(roles):
        raise ValidationError(_("角色组尚未初始化，请先运行 migrate。"))
    keep = [g for g in user.groups.all() if not g.name.startswith("role:")]
    user.groups.set(keep + role_groups)
    user._roles_cache = None
    # Agency administrators work in the Django admin, which needs is_staff.
    staff = user.is_superuser or Role.AGENCY_ADMIN in roles
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
    if user.agency is not None:
        user.groups.add(user.agency.group)
    if before != roles:
        event = record_event(
            "user.roles_changed", actor=acting_user, agency=user.agency, obj=user,
            details={"username": user.username, "before": before, "after": roles},
        )
        if before:  # a new account's first roles are no news to its holder
            from casehub.audit.handlers import notify_account_holder

            notify_account_holder(user, ["roles"], event)


@transaction.atomic
def create_user(
    *, username: str, agency: Agency | None, roles: Iterable[str], password: str | None,
    display_name: str = "", acting_user: User | None = None, **fields: object,
) -> User:
    roles = validate_roles(agency, roles)
    user = User(username=username, agency=agency, display_name=display_name, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    record_event("user.created", actor=acting_user, agency=agency, obj=user, details={"username": username})
    set_roles(user, roles, acting_user=acting_user)
    return user
