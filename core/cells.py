"""The one cell parser every importer shares: what offices type into workbooks, read the
same way everywhere, refused with the same words.

- Numbers: full-width digits and punctuation (８５．５ → 85.5, Unicode NFKC), thousands
  separators (1,234 and １，２３４), a stray space; never a float's binary noise (a float
  cell goes through its repr, so 0.1 stays 0.1).
- Codes (credit codes, unit codes): full-width letters and digits made plain, every space
  and hyphen inside dropped (`9152 0102 …` is the same code), upper case.
- Headers: spaces, a required mark (`*`, `（必填）`) and a unit suffix (`党员总数（人）`,
  `金额(万元)`) do not change which column a header names.

Problems raise CellProblem carrying a catalog key under `upload.cells.` and its parameters,
so each caller words it in the user's language.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from core import i18n

_SPACES = re.compile(r"\s+")
_REQUIRED_MARK = re.compile(r"(\*|[(]必填[)])$")
# A trailing bracketed part is a unit or a note: 党员总数(人), 金额(万元), 人数[人].
_UNIT_SUFFIX = re.compile(r"[(\[【][^()\[\]【】]{1,12}[)\]】]$")
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_CODE_NOISE = re.compile(r"[\s\-_－—]+")


class CellProblem(ValueError):
    """A cell that cannot be read as asked: `key` under upload.cells, `params` for it."""

    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params

    def message(self, lang: str = i18n.DEFAULT) -> str:
        return i18n.t(f"upload.cells.{self.key}", lang, **self.params)


def plain(text: str) -> str:
    """Full-width and compatibility forms made plain (NFKC): ８５．５ → 85.5, （ → (."""
    return unicodedata.normalize("NFKC", text)


def shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# -- numbers ----------------------------------------------------------------------------------
def number(value: Any) -> Decimal:
    """A cell as an exact decimal number, or CellProblem("not_number")."""
    if isinstance(value, bool):
        raise CellProblem("not_number", value=shown(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        out = Decimal(repr(value))
        if not out.is_finite():
            raise CellProblem("not_number", value=shown(value))
        return out
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CellProblem("not_number", value=str(value))
        return value
    text = _SPACES.sub("", plain(str(value)))
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(text):
        raise CellProblem("not_number", value=shown(value))
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellProblem("not_number", value=shown(value)) from None


def whole(value: Any) -> int:
    """A whole number; 3.0 from a spreadsheet is 3, 3.5 is CellProblem("not_whole")."""
    if value.__class__ is int:
        return value
    n = number(value)
    if n != n.to_integral_value():
        raise CellProblem("not_whole", value=shown(value))
    return int(n)


def decimal_in(value: Any, *, integer: bool = False, low: Decimal | None = None,
               high: Decimal | None = None, places: int | None = None,
               unit: str = "") -> Decimal:
    """A number with the rules of an indicator: whole when `integer`, at most `places`
    decimals, within [low, high]."""
    n = number(value)
    if integer and n != n.to_integral_value():
        raise CellProblem("not_whole_unit" if unit else "not_whole", value=fmt(n), unit=unit)
    if places is not None and -n.as_tuple().exponent > places \
            and n != n.quantize(Decimal(1).scaleb(-places)):
        raise CellProblem("too_many_places", value=fmt(n), places=places)
    if (low is not None and n < low) or (high is not None and n > high):
        raise CellProblem("out_of_range", value=fmt(n),
                          low=fmt(low) if low is not None else "-∞",
                          high=fmt(high) if high is not None else "∞")
    return n


def fmt(n: Decimal | int | float) -> str:
    """A number as people write it: no exponent, no trailing zeros."""
    d = n if isinstance(n, Decimal) else Decimal(repr(n)) if isinstance(n, float) else Decimal(n)
    text = format(d, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- codes and headers ------------------------------------------------------------------------
def code(value: Any) -> str:
    """A code as typed, made comparable: plain forms, no inner spaces or hyphens, upper case."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed into a number cell: 520102.0 → "520102"
    return _CODE_NOISE.sub("", plain(str(value))).upper()


def header(text: Any) -> str:
    """A header cell as matched against the expected columns."""
    s = _SPACES.sub("", plain(str(text or "")))
    return _REQUIRED_MARK.sub("", s).lower()


def header_forms(text: Any) -> set[str]:
    """The header and, if it ends in a unit such as （人）, the header without it."""
    h = header(text)
    forms = {h}
    bare = _UNIT_SUFFIX.sub("", h)
    if bare and bare != h:
        forms.add(_REQUIRED_MARK.sub("", bare))
    return forms
