"""How the year's codes read to people: the rule that decided a grade, notes, provenance."""

from __future__ import annotations

from typing import Any

from plugins.ranking.annual_scheme import AnnualScheme

TEXT = {
    "zh": {"band": "按分数段", "quota": "超出{grade}名额（{units}个单位×{quota}%={places}名，{rounding}）顺延",
           "tie": "名额边界同分，按{rule}决定", "tie:demote": "名额边界同分且无法区分，均顺延",
           "tie:admit": "名额边界同分且无法区分，均保留", "veto": "一票否决：{name}",
           "rule": "{name}", "panel": "民主测评得分", "bonus": "加分",
           "floor": "向下取整", "half_up": "四舍五入", "ceil": "向上取整",
           "panel_not_used": "{component}测评人数{raters}人，不足{min}人，未计入（权重按其余部分折算）",
           "periods_missing": "{component}缺少{missing}的排位", "item_capped": "{item}{points}分，按上限计{cap}分",
           "bonus_capped": "加分合计{points}分，按上限计{cap}分",
           "deduction_capped": "扣分合计{points}分，按上限计{cap}分",
           "weights_rescaled": "按已有部分的权重（合计{weights}）折算",
           "self": "自评（待审核）", "reviewed": "牵头部门审核", "imported": "Excel导入",
           "plugin": "系统计算", "entered": "手工录入"},
    "en": {"band": "score band", "quota": "over the {grade} quota ({units} units × {quota} % = "
                                         "{places}, {rounding}): one grade down",
           "tie": "tie at the quota boundary decided by {rule}",
           "tie:demote": "tie at the quota boundary, level on every rule: all go down",
           "tie:admit": "tie at the quota boundary, level on every rule: all kept",
           "veto": "veto: {name}", "rule": "{name}", "panel": "panel score", "bonus": "bonus",
           "floor": "rounded down", "half_up": "rounded half up", "ceil": "rounded up",
           "panel_not_used": "{component}: {raters} raters, fewer than {min}: not used "
                             "(weights of the other parts rescaled)",
           "periods_missing": "{component}: no ranking for {missing}",
           "item_capped": "{item}: {points} points, capped at {cap}",
           "bonus_capped": "bonus {points} points in all, capped at {cap}",
           "deduction_capped": "deduction {points} points in all, capped at {cap}",
           "weights_rescaled": "rescaled to the weights present ({weights})",
           "self": "self-assessed (not yet reviewed)", "reviewed": "reviewed by the lead "
                   "department", "imported": "Excel upload", "plugin": "computed by the "
                   "platform", "entered": "entered by hand"},
}


def _t(lang: str, key: str, **kw: Any) -> str:
    table = TEXT.get(lang, TEXT["zh"])
    return table[key].format(**kw)


def grade_name(a: AnnualScheme, key: str) -> str:
    return next((g.name for g in a.grades if g.key == key), key)


def _tie_rule(a: AnnualScheme, rule: str, lang: str) -> str:
    if rule.startswith("component:"):
        key = rule.split(":", 1)[1]
        return next((c.name for c in a.components if c.key == key), key)
    return _t(lang, rule)


def rule_text(a: AnnualScheme, rule: str, lang: str = "zh", note: dict | None = None) -> str:
    """What decided a grade, in words."""
    if rule == "band":
        return _t(lang, "band")
    if rule == "quota" and note:
        return quota_text(a, note, lang)
    if rule in ("tie:demote", "tie:admit"):
        return _t(lang, rule)
    if rule.startswith("tie:"):
        return _t(lang, "tie", rule=_tie_rule(a, rule[4:], lang))
    if rule.startswith("veto:"):
        name = next((v.name for v in a.vetoes if v.key == rule[5:]), rule[5:])
        return _t(lang, "veto", name=name)
    if rule.startswith("rule:"):
        return next((r.name for r in a.rules if r.key == rule[5:]), rule[5:])
    return rule


def quota_text(a: AnnualScheme, note: dict, lang: str = "zh") -> str:
    return _t(lang, "quota", grade=grade_name(a, note["grade"]), units=note["units"],
              quota=note["quota"], places=note["places"], rounding=_t(lang, note["rounding"]))


def notes_text(a: AnnualScheme, notes: list[dict], lang: str = "zh", rule: str = "") -> list[str]:
    """The notes in words; a quota note is left out where it already is the deciding rule."""
    out = []
    comps = {c.key: c.name for c in a.components}
    items = {i.key: i.name for i in a.items}
    for n in notes:
        code = n["code"]
        if code == "quota":
            if rule != "quota":
                out.append(quota_text(a, n, lang))
        elif code in ("veto", "rule"):
            continue  # shown as the deciding rule
        elif code in ("panel_not_used", "periods_missing"):
            out.append(_t(lang, code, **{**n, "component": comps.get(n["component"], n["component"]),
                                         "missing": "、".join(n.get("missing", []))}))
        elif code == "item_capped":
            out.append(_t(lang, code, **{**n, "item": items.get(n["item"], n["item"])}))
        else:
            out.append(_t(lang, code, **n))
    return list(dict.fromkeys(out))


def provenance_text(kind: str, lang: str = "zh") -> str:
    return _t(lang, kind)
