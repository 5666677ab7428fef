"""Object-level scoping: what a user may see. No web imports, so plugin services that scope
their queries load without the web stack."""

from __future__ import annotations

from dataclasses import dataclass

from core import accounts


@dataclass
class Scope:
    """What a user may see: everything, a unit subtree, or their own assignments."""

    kind: str  # all, subtree, assigned
    read_only: bool
    unit_path: str | None = None
    user_id: int | None = None

    def allows_unit_path(self, path: str) -> bool:
        return self.kind == "all" or (self.kind == "subtree" and path.startswith(self.unit_path or "\0"))


async def scope_for(user: accounts.User) -> Scope:
    """The one object-level scoping rule every plugin applies to its queries."""
    if user.role == "admin":
        return Scope("all", False)
    if user.role == "leader":
        return Scope("all", True)
    if user.role == "unit_officer":
        unit = await user.unit  # type: ignore[misc]
        return Scope("subtree", False, unit_path=unit.path if unit else None)
    return Scope("assigned", False, user_id=user.id)
