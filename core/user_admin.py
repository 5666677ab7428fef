"""Changing an account for admins: its name, mail address, role and unit; disabling it.

A user who stops acting in a role (disabled, or given another one) leaves it on every plugin
in the same transaction (hook `kaohe_user_leaves_role`): a disabled instructor's assignments
end with the account, so the coverage figures stop counting them on the day compliance does.
"""

from __future__ import annotations

import re
from typing import Any

from tortoise.transactions import in_transaction

from core import accounts, audit, i18n, unit_picker
from core.accounts import ROLES, User
from core.contrib import Notice
from core.errors import Conflict, FieldsInvalid, Invalid
from core.orgs import OrgUnit

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Roles bound to a unit: an officer always (their scope), a leader optionally (the district
# detail of the reports they receive).
UNIT_ROLES = {"unit_officer": True, "leader": False}


async def check(user: User, values: dict[str, str], me: User | None,
                lang: str = i18n.DEFAULT) -> dict[str, Any]:
    """The edit form's fields, checked; every refused field is named with its message."""
    t = lambda key, **p: i18n.t(f"user_edit.{key}", lang, **p)  # noqa: E731
    form = {k: (values.get(k) or "").strip() for k in ("display_name", "email", "role", "unit")}
    errors: dict[str, str] = {}
    if not form["display_name"]:
        errors["display_name"] = t("err_required")
    elif len(form["display_name"]) > 100:
        errors["display_name"] = t("err_long", max=100)
    if form["email"] and (len(form["email"]) > 200 or not EMAIL_RE.match(form["email"])):
        errors["email"] = t("err_email", value=form["email"][:60])
    role = form["role"]
    if role not in ROLES:
        errors["role"] = t("err_role")
    elif me is not None and user.id == me.id and role != user.role:
        errors["role"] = t("err_self_role")  # also keeps the last admin
    unit = None
    if form["unit"]:
        try:
            unit = await unit_picker.resolve(form["unit"], field="unit",
                                             label=i18n.t("users.unit", lang), lang=lang)
        except Invalid as exc:
            errors["unit"] = exc.message
        if unit is not None and role in ROLES and role not in UNIT_ROLES:
            errors["unit"] = t("err_unit_role", role=i18n.t(f"role.{role}", lang))
    elif UNIT_ROLES.get(role):
        errors["unit"] = t("err_unit_required")
    if errors:
        raise FieldsInvalid(errors)
    return {"display_name": form["display_name"], "email": form["email"], "role": role,
            "unit_id": unit.id if unit else None}


async def leave_role(user: User, role: str, reason: str) -> list[Notice]:
    """Every plugin ends what the user held in `role`, in the caller's transaction."""
    import inspect

    from core.plugins import get_host

    notices: list[Notice] = []
    # One plugin at a time: a plugin that raises stops the rest and rolls the whole back.
    for impl in reversed(get_host().pm.hook.kaohe_user_leaves_role.get_hookimpls()):
        result = impl.function(user=user, role=role, reason=reason)
        if inspect.isawaitable(result):
            result = await result
        notices.extend(result or [])
    return notices


async def update(user: User, clean: dict[str, Any]) -> list[Notice]:
    """Store the checked fields; a new role or unit ends the user's logins (they carried the
    old reach) and the old role on every plugin."""
    before = {k: getattr(user, k) for k in clean}
    changed = {k: v for k, v in clean.items() if before[k] != v}
    if not changed:
        return []
    notices: list[Notice] = []
    async with in_transaction():
        await User.filter(id=user.id).update(**changed)
        await audit.record("user.update", "user", user.username,
                           before={k: before[k] for k in changed}, after=changed)
        if "role" in changed or "unit_id" in changed:
            await accounts.end_logins(user, "user.update")
        if "role" in changed:
            notices = await leave_role(user, user.role, "role_changed")
    for k, v in changed.items():
        setattr(user, k, v)
    return notices


async def set_role(user: User, role: str, unit: OrgUnit | None) -> list[Notice]:
    """The users list's role change: role and unit, the old role left on every plugin."""
    unit_id = unit.id if unit else None
    if (role, unit_id) == (user.role, user.unit_id):
        return []
    notices: list[Notice] = []
    async with in_transaction():
        before = {"role": user.role, "unit_id": user.unit_id}
        await User.filter(id=user.id).update(role=role, unit_id=unit_id)
        await audit.record("user.change_role", "user", user.username, before=before,
                           after={"role": role, "unit_id": unit_id})
        # Logins carry the old role's reach; they end with it.
        await accounts.end_logins(user, "user.change_role")
        if role != before["role"]:
            notices = await leave_role(user, before["role"], "role_changed")
    user.role, user.unit_id = role, unit_id
    return notices


async def disable(user: User, me: User | None = None, lang: str = i18n.DEFAULT) -> list[Notice]:
    """Disable the account: its logins and tokens end, and what it held on every plugin, in
    one transaction. Disabling oneself is refused (it also keeps the last admin)."""
    if me is not None and user.id == me.id:
        raise Conflict("self_disable", i18n.t("users.self_disable", lang))
    if not user.is_active:
        return []
    async with in_transaction():
        changed = await User.filter(id=user.id, is_active=True).update(is_active=False)
        if not changed:
            return []
        await accounts.end_logins(user, "user.disable")
        notices = await leave_role(user, user.role, "disabled")
        await audit.record("user.disable", "user", user.username, before={"is_active": True},
                           after={"is_active": False})
    user.is_active = False
    return notices


def notice_text(notices: list[Notice], lang: str = i18n.DEFAULT) -> str:
    return "；".join(i18n.t(n.key, lang, **n.params) for n in notices)
