"""Links in mail are absolute, made with [app] base_url."""

from core.notify import _entry
from core.settings import current, set_current


def test_relative_links_in_mail_use_the_base_url(settings):
    before = current()
    settings.core.app.base_url = "https://kaohe.example.gov.cn/"
    set_current(settings)
    try:
        text = _entry("整改事项已派遣", "请于期限内办理", "/rectification/tasks/7", "zh")
        assert "https://kaohe.example.gov.cn/rectification/tasks/7" in text
        assert _entry("s", "", "https://x.org/a", "zh").endswith("https://x.org/a")
    finally:
        if before is not None:
            set_current(before)
