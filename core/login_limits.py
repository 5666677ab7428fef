"""Login limits, counted atomically before a password is checked.

Three fixed-window buckets, each opened by its first attempt:

- per (account, address), `login_max_failures`: one person guessing;
- per account from any address, `login_account_max_failures`: guessing spread over addresses;
- per address, `login_address_per_minute`: an office behind one NAT shares an address, so an
  address is only slowed down (429 with Retry-After until its minute ends) and never locks
  the accounts behind it.

Every attempt takes its slot first (Redis INCR, or one UPSERT … RETURNING on the database),
so parallel requests cannot all be checked; a successful login gives its slots back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from core.sql import Sql

ADDRESS_WINDOW = 60


class Counters(Protocol):
    async def hit(self, bucket: str, window: int) -> tuple[int, int]:
        """Count one attempt; return (attempts in the window, seconds until it ends)."""

    async def clear(self, bucket: str) -> None: ...

    async def give_back(self, bucket: str) -> None: ...

    async def close(self) -> None: ...


_REDIS_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('TTL', KEYS[1])}
"""


class RedisCounters:
    """Buckets shared by every instance through Redis; the script makes INCR + EXPIRE one step."""

    def __init__(self, url: str, prefix: str = "kaohe:login:"):
        from redis.asyncio import Redis

        self.client = Redis.from_url(url)
        self.prefix = prefix
        self._hit = self.client.register_script(_REDIS_HIT)

    async def hit(self, bucket: str, window: int) -> tuple[int, int]:
        count, ttl = await self._hit(keys=[self.prefix + bucket], args=[window])
        return int(count), max(int(ttl), 1)

    async def clear(self, bucket: str) -> None:
        await self.client.delete(self.prefix + bucket)

    async def give_back(self, bucket: str) -> None:
        # DECR would create a key without expiry if it vanished meanwhile; a script would not.
        await self.client.eval("if redis.call('GET', KEYS[1]) then return redis.call('DECR', KEYS[1]) "
                               "end return 0", 1, self.prefix + bucket)

    async def close(self) -> None:
        await self.client.aclose()


class DatabaseCounters:
    """Buckets in core_login_counter: one UPSERT … RETURNING per attempt (PostgreSQL, SQLite)."""

    HIT = ("INSERT INTO core_login_counter (bucket, count, window_ends) VALUES ({0}, 1, {1}) "
           "ON CONFLICT (bucket) DO UPDATE SET "
           "count = CASE WHEN core_login_counter.window_ends <= {2} THEN 1 "
           "ELSE core_login_counter.count + 1 END, "
           "window_ends = CASE WHEN core_login_counter.window_ends <= {2} THEN excluded.window_ends "
           "ELSE core_login_counter.window_ends END "
           "RETURNING count, window_ends")

    def _sql(self, template: str) -> tuple[object, str]:
        q = Sql()  # numbered marks: {2} is used twice
        return q.conn, template.format(*(q.p(i) for i in range(1, 4)))

    async def hit(self, bucket: str, window: int) -> tuple[int, int]:
        now = int(time.time())
        conn, sql = self._sql(self.HIT)
        # execute_query_dict: asyncpg's execute_query returns no rows for an INSERT.
        rows = await conn.execute_query_dict(sql, [bucket, now + window, now])
        row = rows[0]
        if now % 64 == 0:  # now and then, forget windows long over
            conn2, purge = self._sql("DELETE FROM core_login_counter WHERE window_ends < {0}")
            await conn2.execute_query(purge, [now - 86400])
        return int(row["count"]), max(int(row["window_ends"]) - now, 1)

    async def clear(self, bucket: str) -> None:
        conn, sql = self._sql("DELETE FROM core_login_counter WHERE bucket = {0}")
        await conn.execute_query(sql, [bucket])

    async def give_back(self, bucket: str) -> None:
        conn, sql = self._sql("UPDATE core_login_counter SET count = count - 1 "
                              "WHERE bucket = {0} AND count > 0")
        await conn.execute_query(sql, [bucket])

    async def close(self) -> None:
        pass


@dataclass
class Refusal:
    reason: str  # "address" (slowed down) or "account" (locked for the window)
    retry_after: int  # seconds


@dataclass
class LoginLimiter:
    counters: Counters
    per_account_address: int
    per_account: int
    per_address_minute: int
    window: int

    @staticmethod
    def _name(username: str) -> str:
        return username.replace("\x00", "").strip().lower()[:64]

    def _buckets(self, username: str, address: str) -> tuple[str, str, str]:
        name = self._name(username)
        return f"addr:{address[:64]}", f"acct-addr:{name}|{address[:64]}", f"acct:{name}"

    async def attempt(self, username: str, address: str) -> Refusal | None:
        """Take a slot in each bucket, the address first; None means check the password."""
        addr, acct_addr, acct = self._buckets(username, address)
        count, ttl = await self.counters.hit(addr, ADDRESS_WINDOW)
        if count > self.per_address_minute:
            return Refusal("address", ttl)
        # Slots of an address that is slowed down are not taken from the account's buckets.
        for bucket, limit in ((acct_addr, self.per_account_address), (acct, self.per_account)):
            count, ttl = await self.counters.hit(bucket, self.window)
            if count > limit:
                return Refusal("account", ttl)
        return None

    async def succeeded(self, username: str, address: str) -> None:
        addr, acct_addr, acct = self._buckets(username, address)
        await self.counters.clear(acct_addr)
        await self.counters.clear(acct)
        await self.counters.give_back(addr)


def limiter_for(settings) -> LoginLimiter:
    """The limiter the settings ask for: Redis when [security] redis_url is set."""
    security = settings.security
    counters: Counters = (RedisCounters(security.redis_url, f"{settings.app.name}:login:")
                          if security.redis_url else DatabaseCounters())
    return LoginLimiter(counters, security.login_max_failures, security.login_account_max_failures,
                        security.login_address_per_minute, security.login_window_seconds)
