"""The one place raw SQL learns its dialect: numbered placeholders ($1 on PostgreSQL, ?1 on
SQLite), boolean literals, date parameters and id lists. Raw statements are kept for the
set-based paths (scans, bulk inserts, roll-ups) where the ORM would build one object a row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tortoise import Tortoise


class Sql:
    def __init__(self, conn: Any = None):
        self.conn = conn if conn is not None else Tortoise.get_connection("default")
        self.pg = self.conn.capabilities.dialect == "postgres"

    def p(self, n: int) -> str:
        """The n-th parameter (1-based); numbered on both, so one may be used twice."""
        return f"${n}" if self.pg else f"?{n}"

    def marks(self, count: int, start: int = 1) -> str:
        return ", ".join(self.p(i) for i in range(start, start + count))

    @property
    def true(self) -> str:
        return "TRUE" if self.pg else "1"

    @property
    def false(self) -> str:
        return "FALSE" if self.pg else "0"

    def d(self, value: dt.date) -> Any:
        """A date parameter: asyncpg takes the date, SQLite compares ISO text."""
        return value if self.pg else value.isoformat()

    def in_ids(self, column: str, n: int, ids: list[int]) -> tuple[str, list[Any]]:
        """`column` among `ids` as one array parameter (PostgreSQL) or integer literals: a
        bound parameter per id costs more to build and parse than the statement itself."""
        if self.pg:
            return f"{column} = ANY({self.p(n)}::bigint[])", [[int(i) for i in ids]]
        return f"{column} IN ({', '.join(str(int(i)) for i in ids)})", []

    async def run(self, sql: str, *values: Any) -> tuple[int, list]:
        return await self.conn.execute_query(sql, list(values))

    async def rows(self, sql: str, *values: Any) -> list[dict[str, Any]]:
        """Rows as dicts (asyncpg's execute_query returns none for INSERT … RETURNING)."""
        return await self.conn.execute_query_dict(sql, list(values))
