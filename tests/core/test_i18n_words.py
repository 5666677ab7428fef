"""Words the platform shows for what it names in code: who acted (a scheduled job by what it
does) and each workbook's title, in the reader's language."""

from __future__ import annotations

from core import i18n


def test_a_scheduled_job_acts_by_what_it_does(host):
    zh = i18n.actor("job:accountability.close_settled", "zh")
    en = i18n.actor("job:accountability.close_settled", "en")
    assert zh == "定时任务（申诉期已过的已落实追责记录自动结案）"
    assert en.startswith("Scheduled job (Close carried-out")
    assert i18n.actor("job:core.mail", "zh") == f"定时任务（{i18n.t('jobs.about.mail', 'zh')}）"
    assert i18n.actor("job:nobody.knows", "en") == "Scheduled job (nobody.knows)"
    assert i18n.actor("cli:zhang", "zh") == "zhang（命令行）"
    assert i18n.actor("zhang", "en") == "zhang" and i18n.actor(None, "zh") == ""


def test_every_workbook_has_an_english_title(host):
    from core.exports import exporters

    found = exporters()
    assert len(found) >= 10
    for name, (_, exp) in found.items():
        assert i18n.exporter_title(exp, "zh") == exp.title, name
        en = i18n.exporter_title(exp, "en")
        assert en != exp.title and not any("\u4e00" <= c <= "\u9fff" for c in en), name
