"""Bad indicator schemes are rejected when the definition is applied, naming the key path."""

import copy
import tomllib

import pytest

from plugins.ranking.scheme import validate
from tests.plugins.ranking.helpers import definition

SOURCES = {"stub.rate"}
EXPORTERS = {"ranking"}


def good() -> dict:
    return tomllib.loads(definition())


def errors_of(data: dict) -> list[str]:
    return validate(data["ranking"], data, SOURCES, EXPORTERS)


def test_the_test_scheme_is_valid():
    assert errors_of(good()) == []


def with_change(change) -> list[str]:
    data = copy.deepcopy(good())
    change(data["ranking"])
    return errors_of(data)


def one(errors: list[str], prefix: str) -> str:
    found = [e for e in errors if e.startswith(prefix)]
    assert found, f"no error at {prefix}: {errors}"
    return found[0]


def test_aspect_weights_must_add_up_to_100():
    errs = with_change(lambda r: r["aspects"][1].update(weight=35))
    assert "add up to 95" in one(errs, "ranking.aspects:")
    assert "people=60" in one(errs, "ranking.aspects:")


def test_indicator_weights_must_add_up_within_the_aspect():
    errs = with_change(lambda r: r["aspects"][1]["indicators"][0].update(weight=40))
    assert "add up to 90" in one(errs, "ranking.aspects[1].indicators:")


def test_weight_must_be_a_positive_number():
    errs = with_change(lambda r: r["aspects"][0].update(weight="sixty"))
    assert "expected a number > 0" in one(errs, "ranking.aspects[0].weight:")
    errs = with_change(lambda r: r["aspects"][0]["indicators"][1].update(weight=-50))
    one(errs, "ranking.aspects[0].indicators[1].weight:")


def test_unknown_indicator_source_names_the_key_and_the_known_ones():
    errs = with_change(lambda r: r["aspects"][1]["indicators"][1].update(source="plugin:nope.x"))
    msg = one(errs, "ranking.aspects[1].indicators[1].source:")
    assert "nope.x" in msg and "stub.rate" in msg
    errs = with_change(lambda r: r["aspects"][1]["indicators"][1].update(source="excel"))
    assert "'manual', 'import' or 'plugin:" in one(errs, "ranking.aspects[1].indicators[1].source:")


@pytest.mark.parametrize("index,method,drop,path", [
    (0, "ratio", "target", "target"),
    (1, "bands", "bands", "bands"),
])
def test_a_method_without_its_parameters_is_rejected(index, method, drop, path):
    def change(r):
        r["aspects"][0]["indicators"][index]["method"] = method
        r["aspects"][0]["indicators"][index].pop(drop, None)

    msg = one(with_change(change), f"ranking.aspects[0].indicators[{index}].{path}:")
    assert f"method '{method}' needs" in msg


def test_deduct_needs_points_and_lower_direction():
    def change(r):
        r["aspects"][1]["indicators"][0].update(method="deduct", direction="higher")

    errs = with_change(change)
    assert "needs points" in one(errs, "ranking.aspects[1].indicators[0].points:")
    assert "must be 'lower'" in one(errs, "ranking.aspects[1].indicators[0].direction:")


def test_bad_bands_and_unknown_method_and_typos():
    errs = with_change(lambda r: r["aspects"][0]["indicators"][1].update(
        bands=[{"threshold": 90, "score": 120}]))
    one(errs, "ranking.aspects[0].indicators[1].bands[0].score:")
    errs = with_change(lambda r: r["aspects"][0]["indicators"][0].update(method="average"))
    one(errs, "ranking.aspects[0].indicators[0].method:")
    errs = with_change(lambda r: r["aspects"][0]["indicators"][0].update(tagret=80))
    assert "unknown key" in one(errs, "ranking.aspects[0].indicators[0].tagret:")


def test_duplicate_keys_and_bad_groups_and_policy():
    errs = with_change(lambda r: r["aspects"][1]["indicators"][0].update(key="sat"))
    assert "already used at ranking.aspects[0].indicators[0]" in one(
        errs, "ranking.aspects[1].indicators[0].key:")
    errs = with_change(lambda r: r["groups"][0].update(level="province"))
    one(errs, "ranking.groups[0].level:")
    errs = with_change(lambda r: r["groups"][0].update(within="999999"))
    one(errs, "ranking.groups[0].within:")
    errs = with_change(lambda r: r.update(missing="skip"))
    one(errs, "ranking.missing:")
    errs = with_change(lambda r: r.update(top_n=-1))
    one(errs, "ranking.top_n:")
    errs = with_change(lambda r: r.pop("groups"))
    one(errs, "ranking.groups:")


def test_subscription_with_bad_cron_or_unknown_exporter_is_rejected():
    sub = {"key": "s1", "title": "T", "exporter": "ranking", "group": "districts",
           "cron": "0 8 1-10 1,3,5,7,9,11 *", "calendar": "first_workday",
           "recipients": [{"role": "leader"}]}
    assert with_change(lambda r: r.update(subscriptions=[sub])) == []
    errs = with_change(lambda r: r.update(subscriptions=[{**sub, "cron": "0 25 * * *"}]))
    assert "invalid cron rule" in one(errs, "ranking.subscriptions[0].cron:")
    errs = with_change(lambda r: r.update(subscriptions=[{**sub, "exporter": "nope"}]))
    assert "unknown exporter 'nope'" in one(errs, "ranking.subscriptions[0].exporter:")
    errs = with_change(lambda r: r.update(subscriptions=[{**sub, "recipients": [
        {"email": "not-an-address"}, {"role": "boss"}]}]))
    one(errs, "ranking.subscriptions[0].recipients[0].email:")
    one(errs, "ranking.subscriptions[0].recipients[1].role:")
    errs = with_change(lambda r: r.update(subscriptions=[{**sub, "calendar": "holidays"}]))
    one(errs, "ranking.subscriptions[0].calendar:")


async def test_applying_a_bad_definition_stores_nothing(db, host):
    from core import assessments
    from plugins.ranking import models
    from tests.plugins.ranking.helpers import add_stub

    add_stub(host)
    text = definition().replace("weight = 40\n", "weight = 45\n", 1)
    with pytest.raises(assessments.DefinitionError) as info:
        await assessments.apply(text, host)
    assert any(e.startswith("ranking.aspects: aspect weights add up to 105") for e in
               info.value.errors), info.value.errors
    assert await models.Scheme.all().count() == 0
    assert await assessments.AssessmentDefinition.all().count() == 0


async def test_apply_stores_the_scheme_with_the_definition_version(db, host):
    from plugins.ranking import models
    from plugins.ranking.services import current_scheme
    from tests.plugins.ranking.helpers import apply

    row, changed = await apply(host)
    assert changed and row.version == 1
    stored, scheme = await current_scheme()
    assert (stored.slug, stored.definition_version) == ("t-ranking", 1)
    assert [i.key for i in scheme.indicators] == ["sat", "sec", "cases", "rate"]
    again, changed = await apply(host)  # the same file twice changes nothing
    assert not changed and await models.Scheme.all().count() == 1
    v2, _ = await apply(host, definition().replace('top_n = 1', 'top_n = 2'))
    stored2, scheme2 = await current_scheme()
    assert stored2.definition_version == v2.version == 2 and scheme2.top_n == 2
    assert await models.Scheme.filter(is_current=True).count() == 1


async def test_the_guiyang_demo_scheme(db, host):
    """10 aspects and 37 indicators from the seed, 群众满意度 the heaviest, the odd-month report."""
    from decimal import Decimal

    from core import assessments
    from plugins.ranking import models
    from plugins.ranking.services import current_scheme
    from tests.plugins.ranking.helpers import GUIYANG

    row, changed = await assessments.apply(GUIYANG.read_text(encoding="utf-8"), host)
    assert changed
    stored, scheme = await current_scheme()
    assert (stored.slug, stored.definition_version) == ("guiyang-2014", row.version)
    assert len(scheme.aspects) == 10 and len(scheme.indicators) == 37
    assert sum(a.weight for a in scheme.aspects) == 100
    assert all(sum(i.weight for i in a.indicators) == 100 for a in scheme.aspects)
    effective = {i.key: scheme.aspects[[a.key for a in scheme.aspects].index(i.aspect)].weight
                 * i.weight / 100 for i in scheme.indicators}
    heaviest = max(effective, key=effective.get)
    assert heaviest == "public_satisfaction" and scheme.by_key[heaviest].core
    assert effective[heaviest] == Decimal(14)
    names = {i.name for i in scheme.indicators} | {a.name for a in scheme.aspects}
    for hardship in ("收入", "就业", "上学", "看病", "养老", "治安"):
        assert hardship in names
    assert {"群众满意度", "群众安全感"} <= names
    plugin_sources = {i.source for i in scheme.indicators if i.plugin_key}
    assert plugin_sources == {"plugin:coverage.org_rate", "plugin:coverage.work_rate",
                              "plugin:coverage.should_establish",
                              "plugin:rectification.on_time_rate",
                              "plugin:accountability.deduction_points",
                              "plugin:satisfaction.rate", "plugin:satisfaction.safety"}
    assert [g.key for g in scheme.groups] == ["districts", "communities"]
    sub = await models.Subscription.get(key="city-ranking-leaders")
    assert (sub.cron, sub.calendar, sub.exporter, sub.group, sub.origin) == (
        "0 8 1-10 1,3,5,7,9,11 *", "first_workday", "ranking", "districts", "definition")
