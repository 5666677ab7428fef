"""Coded fields with their Chinese labels, and the checks every input path shares.

The checks are pure functions: they return an error (a message key and parameters) or a
clean value, so the web form, the Excel upload and the CLI report the same words.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from stdnum.cn import uscc as stdnum_uscc

from core import cells, i18n

# code → Chinese label; the label is what people type or pick in a workbook (pages show the
# catalog's coverage.label.* in the reader's language).
KIND_LABELS = {"enterprise": "非公企业", "social": "社会组织"}
STATUS_LABELS = {"active": "正常", "closed": "注销", "moved": "迁出"}
PARTY_ORG_TYPE_LABELS = {"committee": "党委", "general_branch": "党总支", "branch": "党支部"}
FORMATION_LABELS = {"standalone": "单独组建", "joint": "联合组建"}
CHANGE_LABELS = {"none": "无变化", "established": "新建党组织", "dissolved": "撤销党组织"}
REPORT_STATUS_LABELS = {"submitted": "已报送", "confirmed": "已确认", "returned": "已退回"}
YES_NO = {True: "是", False: "否"}
# The page shows a code by its catalog label (coverage.label.KEY.CODE), in the reader's language.
LABELS_OF = {"kind": KIND_LABELS, "status": STATUS_LABELS, "party_org_type": PARTY_ORG_TYPE_LABELS,
             "formation": FORMATION_LABELS, "change": CHANGE_LABELS,
             "report_status": REPORT_STATUS_LABELS}

USCC_ALPHABET = set("0123456789ABCDEFGHJKLMNPQRTUWXY")


class FieldError(Exception):
    """A bad value: `field` is the API field name, `key` a message key under coverage.err."""

    def __init__(self, field_name: str, key: str, params: dict[str, Any] | None = None):
        super().__init__(f"{field_name}: {key}")
        self.field = field_name
        self.key = key
        self.params = dict(params or {})

    def message(self, lang: str = "zh") -> str:
        return i18n.t(f"coverage.err.{self.key}", lang, **self.params)


@dataclass
class RowError:
    """A bad cell of an upload: sheet row number (1-based as Excel shows it) and column title."""

    row: int
    column: str
    field: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def message(self, lang: str = "zh") -> str:
        return i18n.t(f"coverage.err.{self.key}", lang, **self.params)

    def as_dict(self, lang: str = "zh") -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "field": self.field,
                "message": self.message(lang)}


def from_label(value: Any, labels: dict[str, str], field_name: str) -> str:
    """Accept the code or its Chinese label; raise FieldError naming the allowed labels."""
    text = "" if value is None else str(value).strip()
    if text in labels:
        return text
    for code, label in labels.items():
        if text == label:
            return code
    raise FieldError(field_name, "choice", {"value": text, "allowed": "、".join(labels.values())})


@lru_cache(maxsize=131_072)
def _stdnum_valid(code: str) -> bool:
    # Cached: a 10,000-row upload checks each code in its preview and again on confirm.
    return stdnum_uscc.is_valid(code)


_USCC_FORM = re.compile(f"[0-9]{{8}}[{''.join(sorted(USCC_ALPHABET))}]{{10}}")


def check_uscc(value: Any, field_name: str = "uscc", check_character: bool = True) -> str:
    """The 18-character unified social credit code with its GB 32100-2015 check character.

    Length and characters are checked first for a precise message; the code itself is
    judged by python-stdnum (`stdnum.cn.uscc.is_valid`). `check_character=False` stops after
    the form: report rows name registry entries, which passed the full check when they were
    registered, so only a code the registry does not know needs it (see reporting.py).
    """
    # Spaces and hyphens people type inside a code do not count (core.cells.code).
    text = "" if value is None else cells.code(value)
    if not text:
        raise FieldError(field_name, "required")
    if len(text) != 18:
        raise FieldError(field_name, "uscc_length", {"value": text, "length": len(text)})
    bad = [] if _USCC_FORM.fullmatch(text) else [c for c in text if c not in USCC_ALPHABET]
    if bad:
        raise FieldError(field_name, "uscc_chars", {"value": text, "chars": "".join(dict.fromkeys(bad))})
    if not text[:8].isdigit():
        raise FieldError(field_name, "uscc_chars", {"value": text, "chars": text[:8]})
    if check_character and not _stdnum_valid(text):
        raise FieldError(field_name, "uscc_check", {
            "value": text, "expected": stdnum_uscc.calc_check_digit(text[:17])})
    return text


def check_count(value: Any, field_name: str, required: bool = True) -> int:
    """A non-negative whole number; 3.0 from a spreadsheet is 3, 3.5 or -1 or 'abc' is an error."""
    if value.__class__ is int and value >= 0:  # the usual cell, already typed by read_table
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(field_name, "required")
        return 0
    if isinstance(value, bool):
        raise FieldError(field_name, "not_integer", {"value": value})
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise FieldError(field_name, "not_integer", {"value": value})
        number = int(value)
    else:
        try:
            number = cells.whole(value)  # the platform's parser: ８５, 1,234
        except cells.CellProblem:
            raise FieldError(field_name, "not_integer", {"value": str(value).strip()}) from None
    if number < 0:
        raise FieldError(field_name, "negative", {"value": number})
    return number


def check_date(value: Any, field_name: str, required: bool = False) -> dt.date | None:
    """yyyy-mm-dd text, or a date cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(field_name, "required")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        raise FieldError(field_name, "date", {"value": text}) from None


def check_text(value: Any, field_name: str, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))  # a number typed into a text column
    if required and not text:
        raise FieldError(field_name, "required")
    if len(text) > max_length:
        raise FieldError(field_name, "too_long", {"max": max_length})
    return text


def check_members(party_members: int, formal: int, probationary: int) -> None:
    """党员总数 = 正式党员 + 预备党员.

    The rule that catches probationary members counted as formal: a probationary member
    (预备党员) is not yet a full member, so the formal count plus the probationary count must
    make up the stated total. When the two add up to more than the total, some probationary
    members were also counted as formal; when they add up to less, the counts are incomplete.
    """
    if formal + probationary > party_members:
        raise FieldError("formal_members", "probationary_as_formal", {
            "formal": formal, "probationary": probationary, "total": party_members})
    if formal + probationary < party_members:
        raise FieldError("party_members", "members_sum", {
            "formal": formal, "probationary": probationary, "total": party_members})


def check_yes_no(value: Any, field_name: str) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("是", "1", "true", "yes", "y", "1.0"):
        return True
    if text in ("否", "0", "false", "no", "n", "0.0"):
        return False
    raise FieldError(field_name, "choice", {"value": value, "allowed": "是、否"})
