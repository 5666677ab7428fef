"""The 通报 of a published ranking: built as a .docx, archived with its SHA-256 and mailed
as the attachment of a report subscription to a real SMTP server; read back with
python-docx."""

from __future__ import annotations

import hashlib
import io
import time

import docx
import pytest

from core import exports
from core.archive import ReportFile, file_path
from core.contrib import ExportRequest
from core.errors import Invalid
from core.mailer import send_due
from plugins.ranking import rankings, reports, subscriptions
from tests.plugins.ranking.helpers import apply, definition, enter, scenario_values
from tests.plugins.ranking.test_reports import SinkProcess, attachment

DOCUMENTS = """
[documents]
issuer = "中共贵阳市委组织部"
code = "筑组"
number_pattern = "{code}〔{year}〕{seq}号"
signatory = "中共贵阳市委组织部"
recipients = "各区（市、县）委组织部"
copy_to = ["市委办公厅"]
"""
SUBSCRIPTION = """
[[ranking.subscriptions]]
key = "notice"
title = "工作绩效排位通报"
exporter = "ranking-notice"
group = "districts"
period_rule = "fixed:2014"
cron = "0 8 1 1 *"
recipients = [{ email = "office@example.org" }]
"""


@pytest.fixture
def smtp(settings, tmp_path):
    server = SinkProcess(tmp_path / "mailbox")
    server.start()
    settings.core.mail.host, settings.core.mail.port = "127.0.0.1", server.port
    settings.core.mail.sender = "kaohe@example.org"
    yield server
    server.stop()


async def publish(host, documents: str = DOCUMENTS):
    await apply(host, definition(extra=SUBSCRIPTION + documents))
    await enter("2014", "districts", scenario_values())
    return await rankings.publish((await rankings.compute("2014", "districts", "t")).id, "t")


def paragraphs(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


async def test_notice_is_mailed_as_docx_and_archived_with_its_sha256(db, host, settings, smtp):
    ranking = await publish(host)
    sub = await subscriptions.get("notice")
    firing = await reports.run_now(settings, sub)
    assert firing.status == "ok", firing.error
    [report] = await ReportFile.filter(id__in=firing.report_ids)
    assert report.filename.startswith("工作绩效排位通报_2014_区（市、县）")
    assert report.filename.endswith(".docx")
    stored = file_path(settings, report)
    assert stored.suffix == ".docx"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == report.sha256
    await send_due(settings)
    for _ in range(50):
        box = smtp.messages()
        if box.get("office@example.org"):
            break
        time.sleep(0.1)
    name, data = attachment(box["office@example.org"][0])
    assert name == report.filename and hashlib.sha256(data).hexdigest() == report.sha256
    texts = paragraphs(data)
    year = ranking.published_at.year
    assert f"筑组〔{year}〕{ranking.id}号" in texts
    assert texts[0] == "中共贵阳市委组织部文件" and "各区（市、县）委组织部：" in texts
    top = texts[texts.index("二、排名靠前的单位") + 1]
    bottom = texts[texts.index("三、排名靠后的单位") + 1]
    # scenario_values: 南明区 is first, and the bottom places are flagged in the ranking.
    assert top.startswith("南明区（第1名") and "排名靠后" in bottom
    assert "四、有关措施" in texts and "抄送：市委办公厅。" in texts
    table = docx.Document(io.BytesIO(data)).tables[0]
    assert [c.text for c in table.rows[1].cells] == ["1", "南明区", "100.00"]


async def test_without_a_documents_section_the_error_names_it(db, host):
    await publish(host, documents="")
    with pytest.raises(Invalid) as info:
        await exports.build_export("ranking-notice",
                                   ExportRequest(period="2014", group="districts"))
    assert info.value.field == "documents" and "[documents]" in info.value.message
