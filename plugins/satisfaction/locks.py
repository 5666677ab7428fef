"""Locks that make the answer checks hold across processes (several workers, instances).

An answer's checks read what is stored (answers from its address, whether the survey is
frozen) and then insert; two processes doing that at once would both pass a limit that
only one may pass. So the check and the insert run in one transaction that first takes:

- on PostgreSQL, transaction-scoped advisory locks: the survey shared (answers go on side by
  side), the address exclusive (answers from one address take turns); freezing takes the
  survey exclusive, so it waits for answers in flight and the later ones see it frozen;
- on SQLite, the write lock (a no-op UPDATE as the first statement, like BEGIN IMMEDIATE),
  which serializes writers of the file across processes.
"""

from __future__ import annotations

from typing import Any

from core.sql import Sql

# Namespaces of the two-key advisory locks (the audit chain uses the one-key form).
SURVEY_LOCK = 0x5A71
ADDRESS_LOCK = 0x5A72


def _int4(hex_digest: str) -> int:
    return int(hex_digest[:8], 16) - 2**31


async def hold_answer(conn: Any, survey_id: int, address_hash: str | None) -> None:
    if not Sql(conn).pg:
        await conn.execute_query("UPDATE satisfaction_survey SET id = id WHERE id = -1")
        return
    sql, args = "SELECT pg_advisory_xact_lock_shared($1, $2)", [SURVEY_LOCK, survey_id]
    if address_hash:
        sql += ", pg_advisory_xact_lock($3, $4)"
        args += [ADDRESS_LOCK, _int4(address_hash)]
    await conn.execute_query(sql, args)


async def hold_survey(conn: Any, survey_id: int) -> None:
    """Shut answers out of the survey until this transaction ends (freezing)."""
    if not Sql(conn).pg:
        await conn.execute_query("UPDATE satisfaction_survey SET id = id WHERE id = -1")
        return
    await conn.execute_query("SELECT pg_advisory_xact_lock($1, $2)", [SURVEY_LOCK, survey_id])
