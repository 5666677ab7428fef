"""The four roles and the sets of them that routes, navigation, exporters and importers allow.

One name per set, so "who may do this" reads the same everywhere and a new role set is a
deliberate line here, not a tuple spelled out at a route (tests/core/test_roles.py)."""

from __future__ import annotations

ADMIN = "admin"
INSTRUCTOR = "instructor"
UNIT_OFFICER = "unit_officer"
LEADER = "leader"

ALL = (ADMIN, INSTRUCTOR, UNIT_OFFICER, LEADER)

ADMIN_ONLY = (ADMIN,)
LEADER_ONLY = (LEADER,)
OFFICER_ONLY = (UNIT_OFFICER,)
INSTRUCTOR_ONLY = (INSTRUCTOR,)
ADMIN_LEADER = (ADMIN, LEADER)
ADMIN_OFFICER = (ADMIN, UNIT_OFFICER)
ADMIN_INSTRUCTOR = (ADMIN, INSTRUCTOR)
LEADER_OFFICER = (LEADER, UNIT_OFFICER)
OFFICER_INSTRUCTOR = (UNIT_OFFICER, INSTRUCTOR)
ADMIN_LEADER_OFFICER = (ADMIN, LEADER, UNIT_OFFICER)
ADMIN_OFFICER_INSTRUCTOR = (ADMIN, UNIT_OFFICER, INSTRUCTOR)
ADMIN_LEADER_INSTRUCTOR = (ADMIN, LEADER, INSTRUCTOR)
