"""The plugin authors' kit (core.testing), used on the example third-party plugin: its
indicator source, its event listener and its page, each on a platform of its own."""

from __future__ import annotations

from core.testing import running_platform


def _overdue(task_no: str, unit: str = "520102001") -> dict:
    return {"task_id": 1, "task_no": task_no, "title": "路灯", "unit_code": unit,
            "responsible_person": "张三", "deadline": "2014-06-30", "days_overdue": 3,
            "threshold": 1, "period": "2014", "link": "/rectification/tasks/1"}


async def test_the_listener_takes_its_event_once_and_refuses_a_bad_one(tmp_path, example):
    from kaohe_example.models import Note

    async with running_platform(tmp_path, plugins={"example": example}) as kaohe:
        await kaohe.units()
        report = await kaohe.announce("rectification.overdue", "overdue:1:1", _overdue("ZG-1"))
        taken = report.result_of("example")
        assert taken["status"] == "noted"
        note = await Note.get(id=taken["note"]).select_related("unit")
        assert note.unit.code == "520102001" and "ZG-1" in note.text
        again = await kaohe.announce("rectification.overdue", "overdue:1:1", _overdue("ZG-1"))
        assert again.outcomes == [] and await Note.all().count() == 1  # one key, one note
        bad = await kaohe.announce("rectification.overdue", "overdue:2:1",
                                   _overdue("ZG-2", unit="999"))
        assert bad.result_of("example")["status"] == "refused" and await Note.all().count() == 1
        # A name it did not declare makes no delivery for it at all.
        other = await kaohe.announce("ranking.published", "ranking:1", {})
        assert "example" not in {o.listener for o in other.outcomes}


async def test_the_indicator_source_counts_a_periods_notes(tmp_path, example):
    from kaohe_example.services import add_note

    async with running_platform(tmp_path, plugins={"example": example}) as kaohe:
        await kaohe.units()
        for text in ("一", "二"):
            await add_note(text, "520102", by="t")
        sources = dict((s.key, s) for _, s in kaohe.host.collect("kaohe_indicator_sources"))
        assert sources["example.note_count"].higher_is_better is False
        # The kit's clock is the platform's: notes written now fall outside 2014.
        values = await sources["example.note_count"].values("2014", ["520102", "520103"])
        assert values == {"520102": 0.0, "520103": 0.0}
        import datetime as dt

        from core import clock

        clock.travel(dt.date(2014, 5, 1))
        try:
            await add_note("三", "520103", by="t")
        finally:
            clock.travel(None)
        values = await sources["example.note_count"].values("2014", ["520102", "520103"])
        assert values == {"520102": 0.0, "520103": 1.0}
        assert await sources["example.note_count"].values("2099", ["520102"]) == {"520102": None}


async def test_log_in_as_each_role_and_see_the_page_its_roles_allow(tmp_path, example):
    async with running_platform(tmp_path, plugins={"example": example}) as kaohe:
        await kaohe.units()
        admin = await kaohe.login_as("admin")
        page = await admin.get("/example", headers={"accept": "text/html"})
        assert page.status_code == 200 and "示例记录" in page.text
        english = await kaohe.login_as("admin", lang="en")
        assert "Example notes" in (await english.get("/example",
                                                     headers={"accept": "text/html"})).text
        officer = await kaohe.login_as("unit_officer", unit_code="520102")
        assert (await officer.get("/example", headers={"accept": "text/html"})).status_code == 403
        assert officer.csrf and officer.user.role == "unit_officer"
