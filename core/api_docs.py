"""What /schema says about errors: one error body for every operation and every status the
platform answers with (Litestar would otherwise declare its own {status_code, detail} body,
which kaohe never sends)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec


class ErrorDetail(msgspec.Struct, omit_defaults=True):
    code: str  # stable for clients, e.g. not_found, invalid_parameter, period_closed
    message: str  # in the caller's language
    field: str | None = None  # the parameter or body field at fault
    details: Any = None


class ErrorBody(msgspec.Struct):
    error: ErrorDetail


ERRORS = {
    400: "参数或请求体无效（字段见 error.field）",
    401: "未登录或令牌无效",
    403: "当前角色无权执行",
    404: "对象不存在或不在可见范围内",
    409: "与当前状态冲突（如考核期已关闭）",
    410: "已不再接受（如测评已结束）",
    422: "内容不符合规则（字段见 error.field）",
    429: "尝试过于频繁，请稍后再试",
}


def declare_errors(handlers: Iterable[Any]) -> None:
    """Give every route handler (routers walked into) the platform's error responses, keeping
    any a handler declares itself."""
    for handler in handlers:
        children = getattr(handler, "route_handlers", None)
        if children is not None and not hasattr(handler, "http_methods"):
            declare_errors(children)
            continue
        if not hasattr(handler, "http_methods"):
            continue
        own = dict(handler.responses or {})
        for status, text in ERRORS.items():
            own.setdefault(status, ResponseSpec(ErrorBody, description=text, generate_examples=False))
        handler.responses = own
