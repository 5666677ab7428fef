"""The API's typed answers, so /schema describes each field."""

from __future__ import annotations

from typing import Annotated

import msgspec


class SurveyOut(msgspec.Struct):
    key: str
    title: str
    period: str
    opens: str
    closes: str
    state: str  # planned, open, closed
    frozen_at: str | None  # when the results were frozen (closed surveys)


class UnitResultOut(msgspec.Struct):
    """One unit's results; percentages in points (83.87 means 83.87 %)."""
    unit_code: str
    unit_name: str
    level: str
    path: str
    covered_units: int  # surveyed units at or under this one
    responses: int
    valid: int  # responses counted (not excluded by a rule)
    index_n: int
    index: float | None
    moe: float | None  # 95 % margin of error of the index
    safety_n: int
    safety: float | None  # 安全感
    safety_moe: float | None
    quota: int
    progress: float | None  # valid responses as a percentage of the quota
    counts: dict[str, int]  # answers of the index question by choice
    safety_counts: dict[str, int]
    previous: float | None = None  # the index of the previous survey
    change: float | None = None  # index minus previous, in points


class ResultsOut(SurveyOut):
    units: list[UnitResultOut] = []


class QuestionOut(msgspec.Struct):
    key: str
    kind: str  # sat3, scale5, yesno, text
    text: str
    required: bool
    complaint: bool  # a text answer the respondent may mark as a complaint (c_KEY)
    choices: list[int]  # the values to send; empty for a text question
    labels: list[str]  # what each value reads as, in the caller's language


class FormOut(msgspec.Struct):
    survey: str
    unit: str
    unit_name: str
    title: str
    token: str  # send back with the answers; valid once, for a while
    questions: list[QuestionOut]


Answer = Annotated[str, msgspec.Meta(max_length=2000)] | int | bool | None
# {"token": ..., "q_KEY": value, "c_KEY": true for a complaint}: keyed by the survey's questions
AnswersIn = Annotated[dict[Annotated[str, msgspec.Meta(max_length=64)], Answer],
                      msgspec.Meta(max_length=200)]


class SubmitOut(msgspec.Struct):
    id: int
    flags: list[str]  # why a response is not counted, when it is not
    counted: bool
