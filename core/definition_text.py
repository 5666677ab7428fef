"""Refusals of an assessment definition in the reader's language. Validators (core and the
plugins') write "where: what" in English, `where` being the key path in the TOML file the
author edits (ranking.aspects[2].weight); each kind of `what` the validators write is told in
the catalog (`definition.*`); a text of no known kind (a TOML parser's or a plugin's own) is
shown as written."""

from __future__ import annotations

import re

from core import i18n

# (pattern of the English text, catalog key); named groups become the text's values.
KINDS = [
    (r"not valid TOML: (?P<detail>.*)", "not_toml"),
    (r"period code '(?P<value>.*)' is not one of (?P<allowed>.*)", "period_code"),
    (r"'(?P<value>.*)' is not defined above this unit", "parent_above"),
    (r"'(?P<value>.*)' is not open or closed", "open_or_closed"),
    (r"Expected `(?P<want>[\w |]+)`, got `(?P<got>[\w |]+)`", "wrong_type"),
    (r"Object missing required field `(?P<value>\w+)`", "missing_field"),
    (r"expected a table (?:\(.*\)|of .*)", "expected_table"),
    (r"required text", "required"),
    (r"missing", "required"),
    (r"a name is needed", "name_needed"),
    (r"empty", "empty"),
    (r"expected text", "expected_text"),
    (r"expected a list of (?:office names|period codes|indicator keys)", "expected_names"),
    (r"unknown placeholder (?P<value>.*) \(known: (?P<allowed>.*)\)", "unknown_placeholder"),
    (r"must contain \{year\} and \{seq\}, e\.g\. (?P<example>.*)", "number_pattern"),
    (r"expected 0–1000 deduction points, got (?P<value>.*)", "deduction_points"),
    (r"must be at least 1 \(a unit must be able to appeal\)", "appeal_window"),
    (r"expected a whole number of days 0–3650, got (?P<value>.*)", "days_0_3650"),
    (r"expected a whole number of at least 1, got (?P<value>.*)", "whole_at_least_1"),
    (r"expected a whole number ≥ 1", "whole_at_least_1"),
    (r"(?P<value>\S+) overlaps accountability\.rules\[(?P<other>\d+)\] \(same trigger '(?P<trigger>.*)' and threshold\)", "rule_overlap"),
    (r"'(?P<value>.*)' at threshold (?P<threshold>\S+) is lesser than '(?P<other>.*)' of (?P<where>\S+) at the lower threshold (?P<lower>\S+)", "rule_lesser"),
    (r"'(?P<value>.*)' may not be automatic \(an admin records a referral by hand\)", "not_automatic"),
    (r"expected 0 to 60 working days", "working_days_60"),
    (r"expected at least 1", "at_least_1"),
    (r"expected a non-empty list of source codes", "source_codes"),
    (r"expected a list of positive working-day counts", "working_day_counts"),
    (r"expected a text code", "text_code"),
    (r"expected a whole number (?:>=|≥) 0, got (?P<value>.*)", "whole_0_got"),
    (r"expected a whole number ≥ 0(?: \(dropped at each end\))?", "whole_0"),
    (r"expected increasing values without repeats", "increasing"),
    (r"'(?P<value>.*)' is not a category code", "not_category"),
    (r"not a severity \((?P<allowed>.*)\) nor a category table", "not_severity_nor_category"),
    (r"not a severity \((?P<allowed>.*)\)", "not_severity"),
    (r"expected a positive whole number of working days, got (?P<value>.*)", "positive_days"),
    (r"(?P<value>\S+) is not between 0 and 3600", "seconds_3600"),
    (r"'(?P<value>.*)' must be 1–40 letters, digits, - or _", "survey_key"),
    (r"'(?P<value>.*)' must be letters, digits or _", "question_key"),
    (r"'(?P<value>.*)' is not a period code like 2014 or 2014H1", "period_code"),
    (r"'(?P<value>.*)' is not one of the \[\[periods\]\] of this file", "not_period"),
    (r"'(?P<value>.*)' is not a period of this definition", "not_period"),
    (r"(?P<value>\S+) is negative", "negative"),
    (r"name the units by level \(and within\) or by codes", "units_by"),
    (r"'(?P<value>.*)' is not a survey defined above this one", "previous_survey"),
    (r"the survey has no questions \(here or in satisfaction\.questions\)", "no_questions"),
    (r"no question with key '(?P<value>.*)'", "no_question"),
    (r"question '(?P<value>.*)' is free text and cannot be scored", "free_text"),
    (r"not an answer value of a (?P<kind>\w+) question \((?P<allowed>.*)\)", "not_answer"),
    (r"only a text question can be marked as a complaint", "complaint_text"),
    (r"a (?P<kind>\w+) question needs (?P<need>\d+) labels, not (?P<have>\d+)", "labels"),
    (r"'?(?P<value>.*?)'? is not 'manual', 'import' or 'plugin:<indicator key>'", "source_kind"),
    (r"expected (?:a list|an array) of tables.*", "expected_list"),
    (r"expected a lower-case identifier of at most 32 characters, got (?P<value>.*)", "identifier_32"),
    (r"expected a unit code", "unit_code"),
    (r"unit '(?P<value>.*)' is not among the definition's units", "not_unit"),
    (r"'(?P<value>.*)' is (?:already used at (?P<where>\S+)|used twice)", "twice"),
    (r"method 'bands' needs bands = .*", "bands_needed"),
    (r"two bands share a threshold", "bands_share"),
    (r"expected \[min, max\] with min < max, got (?P<value>.*)", "range"),
    (r"expected true or false", "boolean"),
    (r"unknown indicator source '(?P<value>.*)': no loaded plugin provides it.*\(known: (?P<allowed>.*)\)", "unknown_source"),
    (r"expected \{threshold = number, score = number\}", "band"),
    (r"expected a number from 0 to 100, got (?P<value>.*)", "number_0_100"),
    (r"expected a number in \(0, 100\]", "number_0_100"),
    (r"expected a number ≥ 0, got (?P<value>.*)", "number_at_least_0"),
    (r"method 'ratio' needs a target > 0, got (?P<value>.*)", "ratio_target"),
    (r"method 'deduct' needs points > 0 deducted per occurrence, got (?P<value>.*)", "deduct_points"),
    (r"method 'deduct' counts occurrences, so the direction must be 'lower'", "deduct_lower"),
    (r"the year's period code is needed, e\.g\. \"2014\"", "year_needed"),
    (r"expected a list such as \[\"component:year_end\"\]", "tie_break_list"),
    (r"'(?P<value>.*)' is not component:KEY of a component, panel or bonus", "tie_break"),
    (r"give either periods \(a list of period codes\) or panel", "periods_or_panel"),
    (r"no panel '(?P<value>.*)' in ranking\.annual\.panels", "no_panel"),
    (r"'(?P<value>.*)' is not bonus or deduction", "bonus_or_deduction"),
    (r"expected a number > 0 \(the most this item can give or take\), got (?P<value>.*)", "cap"),
    (r"name an indicator of the scheme or plugin:KEY", "name_indicator"),
    (r"no loaded plugin provides '(?P<value>.*)'", "no_plugin"),
    (r"unknown indicator '(?P<value>.*?)'(?: \(not in the scheme\))?", "unknown_indicator"),
    (r"at least two grades are needed, best first", "two_grades"),
    (r"(?P<value>\S+) is not below the grade before it \(grades go best first\)", "grade_order"),
    (r"(?P<value>.*) is outside 0–100 %", "quota_range"),
    (r"the last grade takes everyone else and has no quota", "last_grade"),
    (r"'(?P<value>.*)' is not a grade key", "not_grade"),
    (r"'(?P<value>.*)' comes from (?P<source>\S+) and cannot be self-assessed", "not_self"),
    (r"opens and closes are dates \(yyyy-mm-dd\)", "dates"),
    (r"at most 32 characters", "at_most_32"),
    (r"expected \[lowest, highest\], got (?P<value>.*)", "scale"),
    (r"expected a whole number ≥ (?P<need>\d+) \(more than the (?P<dropped>\d+) dropped\)", "min_raters"),
    (r"expected a table", "expected_table"),
    (r"expected (?:a list|an array) of tables.*", "expected_list"),
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
            if key == "wrong_type":  # msgspec's type names, as the reader calls them
                values = {k: i18n.t("definition.type.or", lang).join(i18n.t(f"definition.type.{name.strip()}", lang)
                                        for name in v.split("|")) for k, v in values.items()}
            if "what" in values:
                values["what"] = i18n.t(f"definition.part.{values['what'].replace(' ', '_')}",
                                        lang)
            return where, i18n.t(f"definition.{key}", lang, **values)
    return where, what
