"""A small HTTP/1.1 client on asyncio streams, for tests and benchmarks that must know their
connection (which worker process serves it) or must cost the machine little (httpx spends
several times the CPU of the request it measures). One connection, kept alive, one request
at a time; cookies are kept per connection like a browser tab's.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

IDLE_SECONDS = 4.0  # uvicorn closes a keep-alive connection idle for 5 s: reopen before that


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Connection:
    host: str
    port: int
    local_host: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _used: float = 0.0

    async def open(self) -> None:
        await self.close()
        local = (self.local_host, 0) if self.local_host else None
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port,
                                                                   local_addr=local)
        self._used = time.monotonic()

    @property
    def local_port(self) -> int:
        assert self._writer is not None
        return self._writer.get_extra_info("sockname")[1]

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        self._reader = self._writer = None

    async def request(self, method: str, path: str, *, form: dict[str, str] | None = None,
                      json_body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        if self._writer is None or time.monotonic() - self._used > IDLE_SECONDS:
            await self.open()
        body = b""
        head = {"host": f"{self.host}:{self.port}", **self.headers, **(headers or {})}
        if form is not None:
            body = urlencode(form).encode()
            head["content-type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            head["content-type"] = "application/json"
        if body or method in ("POST", "PUT", "PATCH"):
            head["content-length"] = str(len(body))
        if self.cookies:
            head["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in head.items()), "", ""]
        assert self._writer is not None and self._reader is not None
        self._writer.write("\r\n".join(lines).encode() + body)
        await self._writer.drain()
        reply = await self._read()
        self._used = time.monotonic()
        for value in (v for k, v in reply.headers if k == "set-cookie"):
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if (reply.header("connection") or "").lower() == "close":
            await self.close()
        return reply

    async def _read(self) -> Reply:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = []
        for line in header_lines:
            if line:
                k, _, v = line.partition(":")
                headers.append((k.strip().lower(), v.strip()))
        reply = Reply(status, headers, b"")
        if (reply.header("transfer-encoding") or "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self._reader.readuntil(b"\r\n")
                    break
                parts.append(await self._reader.readexactly(size))
                await self._reader.readexactly(2)
            reply.body = b"".join(parts)
        else:
            reply.body = await self._reader.readexactly(int(reply.header("content-length") or 0))
        return reply


def server_pid_of(local_port: int, server_port: int, pids: list[int]) -> int | None:
    """Which of `pids` holds the server end of the loopback connection whose client end is
    `local_port` (/proc/net/tcp gives the socket's inode, /proc/PID/fd who holds it)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            if (int(local.rsplit(":", 1)[1], 16) == server_port
                    and int(remote.rsplit(":", 1)[1], 16) == local_port):
                inodes.add(inode)
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = fd.readlink().name
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                return pid
    return None
