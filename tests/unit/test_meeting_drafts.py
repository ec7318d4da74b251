"""Unsent meetings are kept encrypted (Fernet, key in the OS keyring), per server and user."""

from __future__ import annotations

import keyring
from keyring.backends.fail import Keyring as FailKeyring

from clinic_tui.meeting_drafts import DraftStore, MeetingDraft

BODY = {"held_on": "2026-01-02", "kind": "first", "notes": "Sover dåligt sedan flytten."}


def test_a_draft_is_stored_as_ciphertext_and_read_back(tmp_path, memory_keyring):
    store = DraftStore("embedded:x", "cecilia", root=tmp_path)
    assert store.persistent
    store.save(MeetingDraft(person_id="person-7f3a9c2e", key="k" * 32, meeting=BODY, submitted=True))
    files = list(tmp_path.rglob("*.draft"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    assert b"Sover" not in raw and b"person-7f3a9c2e" not in raw and b"k" * 32 not in raw
    again = DraftStore("embedded:x", "cecilia", root=tmp_path)  # a new run: the keyring's key
    [draft] = again.all()
    assert draft.meeting == BODY and draft.key == "k" * 32 and draft.submitted
    again.remove(draft.key)
    assert not list(tmp_path.rglob("*.draft"))


def test_another_user_neither_sees_nor_reads_the_drafts(tmp_path, memory_keyring):
    DraftStore("embedded:x", "cecilia", root=tmp_path).save(MeetingDraft("p1", "key-00000001", BODY))
    other = DraftStore("embedded:x", "olof", root=tmp_path)
    assert other.all() == []
    # even pointed at her files, his key does not open them
    other.dir = DraftStore("embedded:x", "cecilia", root=tmp_path).dir
    assert other.all() == []


def test_without_a_keyring_drafts_stay_in_memory_only(tmp_path):
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        store = DraftStore("embedded:x", "cecilia", root=tmp_path)
        assert not store.persistent
        store.save(MeetingDraft("p1", "key-00000001", BODY))
        assert [d.key for d in store.all()] == ["key-00000001"]
        assert not list(tmp_path.rglob("*"))
    finally:
        keyring.set_keyring(previous)


def test_numbers_and_explanations_are_worded_in_the_users_language():
    from clinic_tui import coach_words, i18n

    assert coach_words.num(47.66, 1) == "47.7"
    i18n.set_language("sv")
    assert coach_words.num(47.66, 1) == "47,7"
    assert coach_words.value("fairly_low") == "något låg"
    line = coach_words.explanation(
        "bmi_from_weight_height", {"weight_kg": 81.5, "height_cm": 180.0, "bmi": 25.2}
    )
    assert line == "BMI 25,2 från 81,5 kg och 180 cm"
    # an answer code reads as its answer; an unknown key is shown as it came, not dropped
    assert "ny_nyckel" in coach_words.explanation("ny_nyckel", {"x": 1})


def test_an_answer_inside_an_explanation_reads_as_part_of_the_sentence():
    from clinic_tui import coach_words, i18n

    line = coach_words.explanation("sitting_hours", {"sitting": "h_11_plus", "threshold_hours": 8})
    assert line == "sitting more than 10 hours a day (flagged from 8 h)"
    i18n.set_language("sv")
    assert "Mer än" not in coach_words.explanation(
        "sitting_hours", {"sitting": "h_11_plus", "threshold_hours": 8}
    )
