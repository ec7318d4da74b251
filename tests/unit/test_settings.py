"""Client settings: the file, then CLINIC_* variables, then the command line; bad values refused."""

from __future__ import annotations

import pytest

from clinic_tui import __main__ as cli
from clinic_tui.settings import ENV_PREFIX, ClientSettings, SettingsError, config_file, load_settings


def write(text: str) -> None:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_file_lives_in_the_users_config_directory(tmp_path):
    assert config_file() == tmp_path / "config" / "clinic-tui" / "config.toml"  # (XDG_CONFIG_HOME, conftest)


def test_defaults_without_a_file():
    s = load_settings()
    assert (s.server, s.language, s.theme, s.keymap) == (None, "en", None, {})


def test_file_then_environment_then_command_line(monkeypatch):
    write(
        'server = "https://file.example.org"\nlanguage = "sv"\ntheme = "nord"\n'
        '[keymap]\n"alert.acknowledge" = "k"\n'
    )
    s = load_settings()
    assert (s.server, s.language, s.theme, s.keymap) == (
        "https://file.example.org",
        "sv",
        "nord",
        {"alert.acknowledge": "k"},
    )
    monkeypatch.setenv("CLINIC_SERVER", "https://env.example.org/")
    monkeypatch.setenv("CLINIC_KEYMAP", '{"app.logout": "ctrl+l"}')
    s = load_settings()
    assert s.server == "https://env.example.org" and s.language == "sv"
    assert s.keymap == {"alert.acknowledge": "k", "app.logout": "ctrl+l"}  # merged, entry by entry
    s = load_settings(server="http://127.0.0.1:8000", language="en")
    assert (s.server, s.language, s.theme) == ("http://127.0.0.1:8000", "en", "nord")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('language = "de"', "language: Value error, choose one of en, sv"),
        ('server = "http://clinic.example.org"', "refusing plain http://"),
        ('[keymap]\n"alert.acknowledge" = " "', "a binding id and at least one key"),
        ("language = ", "not valid TOML"),
        ('ca_file = "/nowhere/ca.pem"', "no such CA file: /nowhere/ca.pem"),
    ],
)
def test_bad_settings_are_refused_with_where_and_why(text, says):
    write(text)
    with pytest.raises(SettingsError, match="config.toml") as caught:
        load_settings()
    assert says in str(caught.value)


def test_the_command_line_says_what_is_wrong_and_starts_nothing(capsys):
    write('language = "de"')
    assert cli.main([]) == 2
    assert "choose one of en, sv" in capsys.readouterr().err


def test_the_command_line_knows_where_settings_come_from():
    """__main__ decides without importing pydantic whether there is anything to read."""
    assert cli.settings_file() == config_file()
    assert set(cli.SETTINGS_ENV) == {f"{ENV_PREFIX}{name.upper()}" for name in ClientSettings.model_fields}


def _args(*argv: str):
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--lang")
    parser.add_argument("--ca-file")
    return parser.parse_args(list(argv))


def test_only_a_language_configured_is_read_without_pydantic(monkeypatch):
    """The file F2 writes (only ``language``), ``--lang`` or ``CLINIC_LANG``: the language is known
    before the first paint and the settings are read after it (issue 13, start-up in Swedish)."""
    assert cli._only_a_language(_args()) == "en"
    write('language = "sv"\n')
    assert cli._only_a_language(_args()) == "sv"
    assert cli._only_a_language(_args("--lang", "en")) == "en"  # the command line wins
    monkeypatch.setenv("CLINIC_LANG", "en")
    assert cli._only_a_language(_args()) == "en"
    monkeypatch.setenv("CLINIC_LANGUAGE", "sv")
    assert cli._only_a_language(_args()) == "sv"


@pytest.mark.parametrize(
    ("text", "argv", "env"),
    [
        ('language = "sv"\ntheme = "nord"\n', (), {}),  # a theme: it applies from the first paint
        ('language = "sv"\n[keymap]\n"app.quit" = "q"\n', (), {}),
        ('language = "de"\n', (), {}),  # refused before the app starts, with its reason
        ("language = ", (), {}),
        ('language = "sv"\n', ("--server", "https://clinic.example.org"), {}),
        ('language = "sv"\n', (), {"CLINIC_LOCK_MINUTES": "5"}),
        ("", ("--lang", "de"), {}),
    ],
)
def test_anything_more_than_a_valid_language_is_read_before_the_app_starts(monkeypatch, text, argv, env):
    write(text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli._only_a_language(_args(*argv)) is None
