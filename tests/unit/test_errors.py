"""Every error code has text of the client's own, filled from the params, in the user's language."""

from __future__ import annotations

import pytest

from clinic_tui import i18n
from clinic_tui.api.client import ApiError, ClientErrorCode, LockedOut, Unreachable
from clinic_tui.api.schemas import ErrorCode
from clinic_tui.errors import WORDING, _names, describe


@pytest.mark.parametrize("code", [*ErrorCode, *ClientErrorCode], ids=str)
def test_every_code_has_a_text_that_fits_without_params(code):
    wording = WORDING.get(code)
    assert wording is not None, f"no text for {code}: add it to clinic_tui.errors.WORDING"
    assert wording.texts and not _names(wording.texts[-1]), "the last text must need no params"
    problem = describe(ApiError("English for the log, never shown", code=code))
    assert problem.text and "never shown" not in problem.text
    assert problem.severity in ("information", "warning", "error")


def test_the_params_fill_the_text():
    problem = describe(
        ApiError(
            "bertil resolved it",
            code=ErrorCode.CONFLICT,
            params={
                "by": "Bertil Berg",
                "to_state": "resolved",
                "at": "2026-11-30T09:05:00+00:00",
                "state": "resolved",
            },
        )
    )
    assert problem.text.startswith("Bertil Berg resolved this alert at 2026-11-30 ")
    assert "it is now resolved" in problem.text and problem.severity == "warning"
    # a reopen reads as such (the state it led to, worded)
    assert (
        "reopened this alert"
        in describe(
            ApiError(
                "",
                code=ErrorCode.CONFLICT,
                params={"by": "B", "to_state": "open", "at": "2026-11-30T09:05Z", "state": "open"},
            )
        ).text
    )


def test_missing_params_fall_back_to_a_plainer_text():
    assert describe(ApiError("", code=ErrorCode.CONFLICT, params={"state": "acknowledged"})).text == (
        "This alert changed meanwhile; it is now acknowledged. Reload it and decide again."
    )
    assert (
        describe(ApiError("", code=ErrorCode.CONFLICT)).text
        == "This alert changed meanwhile. Reload it and decide again."
    )


def test_params_pick_the_case():
    def text(code, **params):
        return describe(ApiError("", code=code, params=params)).text

    assert (
        text(ErrorCode.NOT_PERMITTED, resource="person") == "You do not have access to this person's record."
    )
    assert "under 18" in text(ErrorCode.NOT_PERMITTED, resource="break_glass", rule="under_18")
    assert text(
        ErrorCode.NOT_PERMITTED, resource="break_glass", rule="a rule this client never heard of"
    ) == ("Break-the-glass access is not allowed for this person.")
    assert text(ErrorCode.NOT_PERMITTED, resource="something new") == "You do not have access to this."
    assert text(ErrorCode.INVALID_TRANSITION, action="resolve", state="open") == (
        "This alert cannot be resolved yet: acknowledge it first."
    )
    assert text(ErrorCode.INVALID_TRANSITION, action="acknowledge", state="acknowledged") == (
        "This alert cannot be acknowledged now: it is acknowledged."
    )
    assert text(ErrorCode.INVALID_REQUEST, field="snooze_until", problem="past") == (
        "That time has already passed: pick a later one."
    )


def test_retry_after_fills_a_lockout():
    assert "in 30 seconds" in describe(LockedOut("", code=ErrorCode.LOCKED_OUT, retry_after=30)).text


def test_failures_that_never_reached_a_server():
    problem = describe(Unreachable("", code=ClientErrorCode.UNREACHABLE, params={"url": "https://h"}))
    assert (problem.title, problem.text) == ("Server unreachable", "Cannot reach the server at https://h.")
    assert "Unexpected error" in describe(RuntimeError("boom")).text


def test_an_unknown_code_shows_the_servers_words_marked_as_such():
    problem = describe(ApiError("The server's own sentence.", code="something_new"))
    assert "The server's own sentence." in problem.text and "something_new" in problem.text
    assert "not translated" in problem.title


def test_texts_are_translated():
    try:
        i18n.set_language("sv")
        problem = describe(ApiError("", code=ErrorCode.INVALID_CREDENTIALS))
        assert problem.text == "Fel användarnamn, lösenord eller kod."
    finally:
        i18n.set_language("en")
