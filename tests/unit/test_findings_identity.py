"""Users are linked to their own identity by keyed hashes only; where the key comes from."""

from __future__ import annotations

import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring

from clinic_server.services.findings import identity
from clinic_server.services.findings.identity import IdentityKey, configured_key, demo_key
from clinic_server.settings import Settings
from clinic_tui.domain.personnummer import luhn_check_digit

PNR = "19840602123" + str(luhn_check_digit("840602123"))


def _settings(tmp_path, **kw) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path}/id.sqlite3", secret_key="s" * 40, **kw)


def test_the_same_identity_gives_the_same_digest_whatever_its_spelling():
    k = IdentityKey(b"k" * 40)
    assert k.personnummer(PNR) == k.personnummer(PNR[2:8] + "-" + PNR[8:]) is not None
    assert k.personnummer("19840602-0000") is None  # not a valid number: no digest
    assert k.address("Storgatan 3, 752 31 Uppsala") == k.address("  STORGATAN 3 752 31   uppsala ")
    assert k.address("Storgatan 3, 752 31 Uppsala") != k.address("Storgatan 5, 752 31 Uppsala")
    assert k.surnames("Lind-Berg") & k.surnames("lind berg") == k.surnames("Lind") | k.surnames("Berg")
    assert k.surnames("Lind") < k.surnames("Lind-Berg") and k.surnames("LIND") == k.surnames(" lind ")
    assert identity.surname_parts("Lind-Berg") == ["berg", "lind", "lind-berg"]
    assert identity.surname_parts("  ") == [] and k.address(None) is None


def test_digests_depend_on_the_key_and_say_nothing_plain():
    a, b = IdentityKey(b"a" * 40), IdentityKey(b"b" * 40)
    assert a.personnummer(PNR) != b.personnummer(PNR)
    assert a.key_id != b.key_id and len(a.key_id) == 16
    assert PNR not in a.personnummer(PNR) and a.key_id not in a.secret.hex()


def test_the_key_comes_from_the_setting_else_the_keyring(tmp_path, memory_keyring):
    configured = configured_key(_settings(tmp_path, identity_key="c" * 40))
    assert configured.secret == b"c" * 40
    settings = _settings(tmp_path)
    assert configured_key(settings) is None  # nothing stored, nothing created
    created = configured_key(settings, create=True)
    assert created is not None and configured_key(settings) == created
    assert list(memory_keyring.store) and all(k[0] == "clinic-server" for k in memory_keyring.store)
    # another database has its own key
    other = Settings(database_url=f"sqlite:///{tmp_path}/other.sqlite3", secret_key="s" * 40)
    assert configured_key(other, create=True) != created


def test_without_a_working_keyring_there_is_no_key(tmp_path):
    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        assert configured_key(_settings(tmp_path), create=True) is None
    finally:
        keyring.set_keyring(previous)


def test_the_demo_key_is_fixed_and_not_the_configured_one(tmp_path):
    assert demo_key() == demo_key()
    assert configured_key(_settings(tmp_path, identity_key="c" * 40)) != demo_key()


def test_a_short_identity_key_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 32"):
        _settings(tmp_path, identity_key="short")
