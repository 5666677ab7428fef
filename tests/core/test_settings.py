import subprocess
import sys

import pytest

from core.settings import SettingsError, load_settings, validate_plugin_sections


def test_defaults_and_env_override(tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text('[app]\nport = 8100\n[database]\nurl = "sqlite://x.db"\n', encoding="utf-8")
    s = load_settings(f, environ={"KAOHE_DATABASE__URL": "postgres://u@h/db", "KAOHE_APP__DEBUG": "true"})
    assert s.app.port == 8100
    assert s.database.url == "postgres://u@h/db"
    assert s.app.debug is True
    assert s.mail.max_attempts == 6


@pytest.mark.parametrize("text, env, expected", [
    ('[app]\nport = "x"\n', {}, "settings: app.port: Expected `int`, got `str`"),
    ('[app]\nprot = 1\n', {}, "settings: app: unknown key `prot`"),
    ("", {"KAOHE_MAIL__PORT": "abc"}, "settings: mail.port: Expected `int`, got `str`"),
    ("[app\n", {}, "not valid TOML"),
    ('[app]\nworkers = -1\n', {}, "settings: app.workers: Expected `int` >= 0"),
    ("", {"KAOHE_APP__WORKERS": "65"}, "settings: app.workers: Expected `int` <= 64"),
    ('[app]\nworkers = "all"\n', {}, "settings: app.workers: Expected `int`, got `str`"),
])
def test_bad_settings_name_the_key(tmp_path, text, env, expected):
    f = tmp_path / "settings.toml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as err:
        load_settings(f, environ=env)
    assert expected in str(err.value)


def test_unknown_section_and_plugin_section_types(tmp_path):
    import msgspec

    class CovSettings(msgspec.Struct, forbid_unknown_fields=True):
        reminder_days: int = 3

    f = tmp_path / "settings.toml"
    f.write_text("[coverage]\nreminder_days = 'x'\n", encoding="utf-8")
    s = load_settings(f, environ={})
    with pytest.raises(SettingsError, match=r"coverage.reminder_days: Expected `int`"):
        validate_plugin_sections(s, {"coverage": CovSettings})
    f.write_text("[nosuch]\na = 1\n", encoding="utf-8")
    s = load_settings(f, environ={})
    with pytest.raises(SettingsError, match=r"\[nosuch\]: unknown section"):
        validate_plugin_sections(s, {"coverage": CovSettings})


def test_check_config_cli_exits_nonzero_with_one_line(tmp_path):
    f = tmp_path / "settings.toml"
    f.write_text("[database]\nauto_migrate = 3\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "core", "--settings", str(f), "check-config"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines == ["kaohe: settings: database.auto_migrate: Expected `bool`, got `int`"]
