"""Settings: defaults, then the environment, then explicit options."""

from __future__ import annotations

from provisioning.settings import Settings, default_database_url


def test_default_database_is_a_sqlite_file_under_data() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == default_database_url()
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("/data/onboard.sqlite")


def test_environment_overrides_defaults_and_options_override_environment() -> None:
    env = {"ONBOARD_DATABASE_URL": "sqlite:///env.sqlite", "ONBOARD_SMTP_PORT": "2525"}
    assert Settings.from_env(env).database_url == "sqlite:///env.sqlite"
    assert Settings.from_env(env).smtp_port == 2525
    assert Settings.from_env(env, database_url="sqlite:///cli.sqlite").database_url == (
        "sqlite:///cli.sqlite"
    )
