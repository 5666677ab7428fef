"""Refusals of an assessment definition in the reader's language. Validators (core and the
plugins') write "where: what" in English, `where` being the key path in the TOML file the
author edits (ranking.aspects[2].weight); the common kinds of `what` are told in the catalog
(`definition.*`), the rest are shown as written."""

from __future__ import annotations

import re

from core import i18n

# (pattern of the English text, catalog key); named groups become the text's values.
KINDS = [
    (r"expected a table", "expected_table"),
    (r"expected a list of tables", "expected_list"),
    (r"'(?P<value>.*)' appears twice", "twice"),
    (r"expected a number > 0, got (?P<value>.*)", "positive"),
    (r"expected a number(?:, got (?P<value>.*))?", "number"),
    (r"expected a lower-case identifier, got (?P<value>.*)", "identifier"),
    (r"required", "required"),
    (r"(?P<closes>\S+) is before opens (?P<opens>\S+)", "closes_before"),
    (r"'(?P<value>.*)' is not one of (?P<allowed>.*)", "not_one_of"),
    (r"(?P<value>\S+) is not one of (?P<allowed>.*)", "not_one_of"),
    (r"'(?P<value>.*)' is not a number", "not_number"),
    (r"aspect weights add up to (?P<total>[\d.]+).*", "aspect_weights"),
    (r"indicator weights add up to (?P<total>[\d.]+).*", "indicator_weights"),
    (r"component weights add up to (?P<total>[\d.]+).*", "component_weights"),
    (r"unknown key.*", "unknown_key"),
    (r"unknown section.*", "unknown_section"),
    (r"'(?P<value>.*)' is not a unit of this file", "not_unit"),
    (r"at least one (?P<what>aspect|indicator|component|peer group) is needed.*", "at_least_one"),
]
_KINDS = [(re.compile(f"^{p}$", re.S), key) for p, key in KINDS]


def explain(message: str, lang: str = i18n.DEFAULT) -> tuple[str, str]:
    """(where in the file, what is wrong) of one refusal."""
    where, sep, what = message.partition(": ")
    if not sep or " " in where:
        where, what = "", message
    for pattern, key in _KINDS:
        found = pattern.match(what)
        if found:
            values = {k: v or "" for k, v in found.groupdict().items()}
            if "what" in values:
                values["what"] = i18n.t(f"definition.part.{values['what'].replace(' ', '_')}",
                                        lang)
            return where, i18n.t(f"definition.{key}", lang, **values)
    return where, what
