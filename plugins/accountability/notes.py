"""Notes the platform writes on records (why a measure was proposed, why an appeal was
overtaken) in the reader's words. They are stored in English for the audit trail; a note a
person typed is shown as typed."""

from __future__ import annotations

import re

from core import i18n

_WHAT = r"(?:overdue (?P<overdue>\d+) working day\(s\)|verification failed (?P<failed>\d+) " \
        r"time\(s\)|bottom place in (?P<bottom>\d+) published ranking\(s\) in a row)"
PROPOSED = re.compile(_WHAT + r": rule accountability\.rules\[(?P<rule>\d+)\] → (?P<measure>\w+)"
                      r"(?:; repeated within (?P<days>\d+) days of record #(?P<repeat>\d+) → "
                      r"(?P<raised>\w+))?$")
SUPERSEDED = re.compile(r"^superseded by the upgrade to (?P<measure>\w+)$")
APPEAL = re.compile(r"^appeal #(?P<id>\d+): (?P<text>.*)$", re.S)
# The title of a bottom-ranking record (triggers.py), written in Chinese as the group's name.
BOTTOM_TITLE = re.compile(r"^(?P<group>.+)：连续(?P<n>\d+)次末位$")
# Closed by the daily job once no appeal can come (jobs.py).
WINDOW_PASSED = "appeal window passed"


def note_text(note: str | None, lang: str = i18n.DEFAULT) -> str:
    note = (note or "").strip()
    found = PROPOSED.match(note)
    if found:
        g = found.groupdict()
        kind = next(k for k in ("overdue", "failed", "bottom") if g[k])
        text = i18n.t(f"accountability.note.{kind}", lang, n=g[kind], rule=int(g["rule"]) + 1,
                      measure=_measure(g["measure"], lang))
        if g["repeat"]:
            text += i18n.t("accountability.note.repeated", lang, days=g["days"], id=g["repeat"],
                           measure=_measure(g["raised"], lang))
        return text
    found = SUPERSEDED.match(note)
    if found:
        return i18n.t("accountability.note.superseded", lang,
                      measure=_measure(found["measure"], lang))
    found = BOTTOM_TITLE.match(note)
    if found:
        return i18n.t("accountability.note.bottom_title", lang, group=found["group"],
                      n=found["n"])
    if note == WINDOW_PASSED:
        return i18n.t("accountability.note.window_passed", lang)
    found = APPEAL.match(note)
    if found:
        return i18n.t("accountability.note.appeal", lang, id=found["id"], text=found["text"])
    return note


def event_text(key: str, lang: str = i18n.DEFAULT) -> str:
    """An event key (`rectification.overdue:125:15`) as its kind and the object it is about."""
    name, _, rest = key.partition(":")
    plugin, _, event = name.partition(".")
    label = i18n.t(f"{plugin}.events.{event}", lang)
    if label == f"{plugin}.events.{event}":
        return key
    parts = rest.split(":")
    return f"{label} · #{parts[0]}" + (f" · {parts[1]}" if len(parts) > 1 else "")


def _measure(key: str, lang: str) -> str:
    return i18n.t(f"accountability.measure.{key}", lang)
