"""The escalation ladder as an admin reads it: the rungs of each trigger from the current
assessment definition, and that definition's own [accountability] text.

The ladder is edited in the definition file, not on a page: it is part of a versioned,
validated definition (each applied file is a version, diffed before it is applied and kept),
so a page edit would make the running ladder differ from every file anyone holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.assessments import AssessmentDefinition
from plugins.accountability.ladder import TRIGGERS, Ladder, Rule, load

HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"]+?)\s*\]\]?\s*(#.*)?$")


@dataclass
class LadderView:
    ladder: Ladder
    by_trigger: dict[str, list[Rule]]
    definition: AssessmentDefinition | None
    section: str  # the [accountability] text of the definition file, comments included


async def current() -> LadderView:
    row = await AssessmentDefinition.filter(is_current=True).order_by("-applied_at",
                                                                       "-id").first()
    ladder = load((row.data if row else {}).get("accountability"))
    rungs = {t: sorted((r for r in ladder.rules if r.trigger == t), key=lambda r: r.threshold)
             for t in TRIGGERS}
    return LadderView(ladder, rungs, row, section_text(row.source) if row else "")


def section_text(source: str, name: str = "accountability") -> str:
    """The lines of `[name]` and its sub-tables, with the comment block just above it; the
    comment block of the next section stays with that section."""
    lines = source.splitlines()
    start = end = None
    for i, line in enumerate(lines):
        found = HEADER.match(line)
        if not found:
            continue
        table = found.group(1).strip('"')
        inside = table == name or table.startswith(f"{name}.")
        if inside and start is None:
            start = i
        elif start is not None and not inside:
            end = i
            break
    if start is None:
        return ""
    end = len(lines) if end is None else end
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return "\n".join(lines[start:end]) + "\n"
