import random
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain import personnummer as pn
from clinic_tui.domain.personnummer import PersonnummerError

TODAY = date(2025, 6, 1)
TOLVAN = "191212121212"
OTHER = "199001010017"


def test_luhn_known_numbers():
    assert pn.luhn_check_digit("121212121") == 2
    assert pn.luhn_check_digit("900101001") == 7


@pytest.mark.parametrize(
    "raw",
    ["19121212-1212", "191212121212", "121212+1212", " 19121212-1212 "],
)
def test_normalize_tolvan_forms(raw):
    assert pn.normalize(raw, today=TODAY) == TOLVAN


@pytest.mark.parametrize("raw", ["19900101-0017", "199001010017", "900101-0017", "9001010017"])
def test_normalize_other_forms(raw):
    assert pn.normalize(raw, today=TODAY) == OTHER


def test_minus_form_of_centenarian_resolves_to_recent_century():
    assert pn.normalize("121212-1212", today=TODAY) == "201212121212"


def test_century_switch_is_by_calendar_year():
    # Born 1925: turns 100 during 2025, so '+' from 1 January 2025.
    num = pn.generate(random.Random(1), date(1925, 12, 31), "male")
    ten = num[2:]
    assert pn.normalize(ten[:6] + "+" + ten[6:], today=TODAY) == num
    assert pn.normalize(ten[:6] + "-" + ten[6:], today=TODAY) == "20" + ten


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("19121212-1213", "check digit does not match"),
        ("19121312-1212", "not a valid date"),
        ("19230229-1234", "not a valid date"),
        ("1912121-1212", "wrong length"),
        ("1912121212123", "wrong length"),
        ("", "wrong length"),
        ("19121212-12a2", "only contain digits"),
        ("19121212+1212", "only used with the 10-digit form"),
        ("19129212-1212", "not a valid date"),
    ],
)
def test_normalize_errors(raw, fragment):
    with pytest.raises(PersonnummerError, match=fragment):
        pn.normalize(raw, today=TODAY)
    assert not pn.is_valid(raw, today=TODAY)


def test_error_message_does_not_leak_number():
    with pytest.raises(PersonnummerError) as exc:
        pn.normalize("19121212-1213", today=TODAY)
    assert "1212" not in str(exc.value)


def test_is_valid():
    assert pn.is_valid("19121212-1212")
    assert not pn.is_valid("19121212-1211")


def test_samordningsnummer():
    num = pn.generate(random.Random(3), date(1990, 1, 31), "female", samordningsnummer=True)
    assert num[6:8] == "91"
    assert pn.normalize(num) == num
    assert pn.is_samordningsnummer(num)
    assert pn.birth_date(num) == date(1990, 1, 31)
    assert not pn.is_samordningsnummer(TOLVAN)


def test_accessors():
    assert pn.birth_date(TOLVAN) == date(1912, 12, 12)
    assert pn.sex(TOLVAN) == "male"  # second-to-last digit 1
    assert pn.sex(OTHER) == "male"  # second-to-last digit 1
    assert pn.sex("199001010025") == "female"  # second-to-last digit 2
    assert pn.is_valid("19900101-0025")
    assert pn.format_display(TOLVAN) == "19121212-1212"
    assert pn.age_on(OTHER, date(2020, 1, 1)) == 30
    assert pn.age_on(OTHER, date(2019, 12, 31)) == 29
    with pytest.raises(PersonnummerError):
        pn.birth_date("19121212-1212")


def test_generate_rejects_bad_sex():
    with pytest.raises(ValueError):
        pn.generate(random.Random(0), date(2000, 1, 1), "x")


def test_generate_is_deterministic():
    a = pn.generate(random.Random(42), date(1970, 5, 17), "female")
    b = pn.generate(random.Random(42), date(1970, 5, 17), "female")
    assert a == b


births = st.dates(min_value=date(TODAY.year - 199, 1, 1), max_value=TODAY)
sexes = st.sampled_from(["female", "male"])


@given(seed=st.integers(0, 2**32), birth=births, sx=sexes, samord=st.booleans())
def test_generated_numbers_validate_and_round_trip(seed, birth, sx, samord):
    num = pn.generate(random.Random(seed), birth, sx, samordningsnummer=samord)
    assert len(num) == 12 and num.isdigit()
    assert pn.normalize(num, today=TODAY) == num
    assert pn.normalize(pn.format_display(num), today=TODAY) == num
    assert pn.birth_date(num) == birth
    assert pn.sex(num) == sx
    assert pn.is_samordningsnummer(num) == samord
    ten = num[2:]
    sep = "+" if TODAY.year - birth.year >= 100 else "-"
    assert pn.normalize(f"{ten[:6]}{sep}{ten[6:]}", today=TODAY) == num
    if sep == "-":
        assert pn.normalize(ten, today=TODAY) == num


@given(
    seed=st.integers(0, 2**32),
    birth=births,
    sx=sexes,
    pos=st.integers(0, 11),
    delta=st.integers(1, 9),
)
def test_single_digit_change_breaks_validation_or_changes_date(seed, birth, sx, pos, delta):
    num = pn.generate(random.Random(seed), birth, sx)
    flipped = num[:pos] + str((int(num[pos]) + delta) % 10) + num[pos + 1 :]
    try:
        result = pn.normalize(flipped, today=TODAY)
    except PersonnummerError:
        return
    assert pn.birth_date(result) != birth
