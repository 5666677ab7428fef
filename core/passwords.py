"""Password strength where a person picks one: zxcvbn's estimate plus a few Chinese favourites.

zxcvbn (Dropbox's estimator) knows the common password lists, keyboard walks, repeats,
sequences and dates; it is told the user's own names too. A score below 2 means guessable
within about 10⁶ tries, which a patient online attacker can reach; such passwords are refused.
"""

from __future__ import annotations

from zxcvbn import zxcvbn

from core import i18n

MIN_LENGTH = 8
MAX_LENGTH = 128  # bounds the hashing and the estimate for hostile input
MIN_SCORE = 2
# Common in China and missing from zxcvbn's English-centred lists (pinyin and numeric puns).
LOCAL_COMMON = (
    "woaini", "woaini1314", "5201314", "1314520", "woaini520", "iloveyou", "aini1314",
    "zhang", "wang", "li", "liu", "chen", "yang", "zhao", "huang", "zhou", "wu",
    "qwe123", "a123456", "123qwe", "abc123", "aa123456", "qq123456", "111111", "123123",
    "admin", "kaohe", "guiyang", "dangjian", "zuzhibu",
)
# The longest guessable part of a refused password, as zxcvbn names its kind, says why.
WHY = {"dictionary": "common", "repeat": "repeat", "sequence": "sequence", "spatial": "keyboard",
       "date": "date", "regex": "date"}


def problem(password: str, lang: str, *, username: str = "", display_name: str = "") -> str | None:
    """Why `password` is refused, in `lang` and naming the field; None when it is good enough."""
    t = lambda key: i18n.t(f"password.{key}", lang)  # noqa: E731
    if len(password) < MIN_LENGTH:
        return t("short")
    if len(password) > MAX_LENGTH:
        return t("long")
    lowered = password.lower()
    names = [n for n in (username.lower(), display_name.lower()) if len(n) >= 3]
    if any(n in lowered or lowered in n for n in names):
        return t("name")
    result = zxcvbn(password[:72], user_inputs=[*names, *LOCAL_COMMON])
    if result["score"] >= MIN_SCORE:
        return None
    found = [m for m in result["sequence"] if m.get("pattern") in WHY]
    longest = max(found, key=lambda m: len(m.get("token", "")), default={})
    return t(WHY.get(longest.get("pattern", ""), "weak"))
