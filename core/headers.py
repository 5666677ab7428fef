"""Security headers on every response.

Pages load scripts from /static only (no inline script or on* handler), so script-src is
'self'. Inline style stays allowed: plugin templates carry <style> blocks and have no static
route of their own, and style cannot run code. The OpenAPI documentation page is a
third-party page with an inline bootstrap script and CDN assets: its router is marked
`docs_page` and gets a policy of its own.
"""

from __future__ import annotations

from typing import Any

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
               "frame-ancestors 'none'")
DOCS_POLICY = ("default-src 'self' https: data: 'unsafe-inline'; object-src 'none'; "
               "base-uri 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"


def security_headers(hsts: bool = False) -> Any:
    """A `before_send` hook (it sees every response, 404s of unknown paths included); headers
    a handler set itself are kept."""

    async def before_send(message: dict, scope: dict) -> None:
        if message["type"] != "http.response.start":
            return
        handler = scope.get("route_handler")
        docs = bool(handler is not None and (handler.opt or {}).get("docs_page"))
        wanted = {
            b"content-security-policy": (DOCS_POLICY if docs else PAGE_POLICY).encode(),
            b"x-content-type-options": b"nosniff",
            b"referrer-policy": b"same-origin",
            b"x-frame-options": b"DENY",
        }
        if hsts:
            wanted[b"strict-transport-security"] = HSTS.encode()
        headers = message.setdefault("headers", [])
        present = {bytes(name).lower() for name, _ in headers}
        headers.extend((k, v) for k, v in wanted.items() if k not in present)

    return before_send
