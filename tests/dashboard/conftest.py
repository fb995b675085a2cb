"""What every page test shares: the entry script, empty per-process caches, and opening
a page through the router as a person does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Settings and read models are cached per process: each test reads its own database."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def open_view(
    monkeypatch: pytest.MonkeyPatch, url: str, view: str, lang: str = "en", actor: str = ""
) -> AppTest:
    """The app on database `url`, switched to `views/<view>.py`, drawn without error."""
    monkeypatch.setenv("ONBOARD_DATABASE_URL", url)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["ui_lang"] = lang
    at.session_state["ui_actor"] = actor
    at.run()
    at.switch_page(f"views/{view}.py").run()
    assert not at.exception, at.exception
    return at
