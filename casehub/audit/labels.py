"""Names auditors read for the action codes the platform records.

Unknown codes are shown as they are; this list only feeds the filter's suggestions and the
display. Apps may add theirs with :func:`register`.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACTION_LABELS: dict[str, str | Promise] = {
    "auth.login": _("登录"),
    "auth.logout": _("退出登录"),
    "auth.login_failed": _("登录失败"),
    "auth.locked_out": _("账户锁定"),
    "permission.granted": _("授予案件权限"),
    "permission.revoked": _("撤销案件权限"),
    "permission.groups_changed": _("用户组变更"),
    "permission.user_permissions_changed": _("用户权限变更"),
    "permission.group_permissions_changed": _("角色权限变更"),
    "user.created": _("创建用户"),
    "user.roles_changed": _("角色变更"),
    "case.registered": _("立案登记"),
    "audit.verified": _("审计日志核验"),
    "audit.checkpoint": _("审计检查点签名"),
    "audit.exported": _("审计日志导出"),
    "metrics.exported": _("考核统计导出"),
    "audit.foreign_rows": _("发现非平台写入的审计记录"),
    "user.account_changed": _("账户变更"),
    "user.second_factor_changed": _("双因素认证设备变更"),
    "access.denied": _("访问被拒绝"),
    "object.downloaded": _("文件链接下载"),
    "case.persons_viewed": _("查看涉案人员"),
    "transfer.viewed": _("查看移送"),
    "custody.viewed": _("查看羁押信息"),
    "document.versions_viewed": _("查看材料版本"),
}


def register(action: str, label: str | Promise) -> None:
    ACTION_LABELS.setdefault(action, label)


def label_for(action: str) -> str | Promise:
    return ACTION_LABELS.get(action, action)
