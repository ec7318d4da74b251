"""The people's rights, as the two privacy policies state them: vocabulary and retention arithmetic.

Pure (no I/O): the server's register extract, export, erasure and retention job, and the client's
screens, read these. Everything here cites the sentence of the policy it implements
(``/shared/seeds/imaginecare-privacy-policy.txt``, ``/shared/seeds/imr-privacy-policy.txt``);
``docs/privacy.md`` maps each promise to the code that keeps it.

- ``ConsentPurpose``: what a consent row is for (care providers' access, IMR's evaluation, the
  ImagineCare account itself, IMR's anonymized statistics).
- ``ProcessingPurpose`` and ``PROCESSING``: why each category is processed, by which controller,
  on which legal basis (the register extract's "purpose and legal basis of each").
- Retention rules (``Rule`` with id and version) and the date arithmetic that applies them:
  ``imr_due``, ``add_months``, ``fiscal_year_end``, ``bookkeeping_keep_until``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from clinic_tui.domain.categories import Category
from clinic_tui.domain.provenance import Rule
from clinic_tui.domain.roles import Basis, OrganizationKind

__all__ = [
    "BOOKKEEPING",
    "IMAGINECARE_ACCOUNT_CLOSED",
    "IMR_ANONYMIZATION_REQUEST",
    "IMR_CONTRACT_ENDED",
    "IMR_LAST_MEETING",
    "PROCESSING",
    "RETENTION_RULES",
    "ConsentPurpose",
    "Due",
    "ErasureMode",
    "ObjectionKind",
    "Processing",
    "ProcessingPurpose",
    "RequestKind",
    "add_months",
    "age_band",
    "bookkeeping_keep_until",
    "fiscal_year_end",
    "imr_due",
]


class ConsentPurpose(StrEnum):
    """What a consent row (``consent.purpose``) is given for."""

    #: a care provider may read the named categories (ImagineCare: "which care provider(s) we may
    #: share your personal information with")
    CARE = "care"
    #: IMR's evaluation and advice on health data, incl. profiling (IMR §4, row 4: "Samtycke")
    COACHING = "coaching"
    #: the consent ImagineCare AB processes health data on to deliver the service at all ("Processing
    #: with your consent that is necessary for us to be able to deliver the ImagineCare service");
    #: while it is active the account is alive; withdrawing it deletes the person's data
    SELF_CARE = "self_care"
    #: IMR may anonymize health data for development and research (IMR §4, row 6: "Om behandlingen
    #: innefattar hälsouppgifter, stöder vi den behandlingen på ditt samtycke")
    STATISTICS = "statistics"


class ObjectionKind(StrEnum):
    """What a person may object to (GDPR art. 21; IMR §8 "Rätt att invända", §5 mailings)."""

    #: automated assessment of health (IMR "Profilering"); stops the coach's automated assessment
    PROFILING = "profiling"
    #: information mailings (IMR §5; ImagineCare "You then always have the opportunity to say no")
    MAILINGS = "mailings"


class ErasureMode(StrEnum):
    #: every personal row goes (ImagineCare: "we will delete all your personal information")
    DELETE = "delete"
    #: IMR: identifying data goes; health values a statistics consent covers are kept without any
    #: link to the person ("Därefter kommer personuppgifter att anonymiseras eller raderas")
    ANONYMIZE = "anonymize"


class RequestKind(StrEnum):
    """A request the person made, as the privacy officer records it."""

    ANONYMIZATION = "anonymization"
    ERASURE = "erasure"
    ACCESS = "access"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"


class ProcessingPurpose(StrEnum):
    """Why data is processed (codes; the client and the extract document word them)."""

    # ImagineCare
    ACCOUNT = "account"
    SELF_CARE = "self_care"
    SHARING_WITH_CARE = "sharing_with_care"
    SERVICE_MESSAGES = "service_messages"
    SAFETY_MONITORING = "safety_monitoring"
    USAGE_STATISTICS = "usage_statistics"
    # IMR
    PARTICIPANT_ACCOUNT = "participant_account"
    EMPLOYER_BILLING = "employer_billing"
    EVALUATION_AND_ADVICE = "evaluation_and_advice"
    INFORMATION_MAILINGS = "information_mailings"
    ANONYMIZED_DEVELOPMENT = "anonymized_development"
    LEGAL_CLAIMS = "legal_claims"
    BOOKKEEPING = "bookkeeping"
    # both: emergency access (vital interests)
    VITAL_INTERESTS = "vital_interests"


@dataclass(frozen=True, slots=True)
class Processing:
    purpose: ProcessingPurpose
    basis: Basis
    #: the policy section that states it
    source: str


_IC = OrganizationKind.IMAGINECARE
_IMR = OrganizationKind.IMR
_IC_HEALTH = (
    Category.CONDITIONS,
    Category.VITALS,
    Category.QUESTIONNAIRES,
    Category.MEDICATIONS,
    Category.HISTORY,
    Category.GOALS,
    Category.SOCIAL,
)
_IMR_HEALTH = (
    Category.CONDITIONS,
    Category.VITALS,
    Category.QUESTIONNAIRES,
    Category.MEDICATIONS,
    Category.HISTORY,
    Category.GOALS,
    Category.SOCIAL,
    Category.FITNESS_TESTS,
    Category.PROFILING,
)


def _table() -> dict[tuple[OrganizationKind, Category], tuple[Processing, ...]]:
    ic_agreement = "ImagineCare §3 'Personal data processing to fulfill our agreement with you'"
    ic_consent = "ImagineCare §3 'Personal data processing that takes place with your consent'"
    ic_interest = "ImagineCare §3 'Personal data processing based on balancing of interests'"
    ic_sharing = "ImagineCare §5 'Healthcare providers'"
    imr_account = "IMR §4 row 1 'Administrera ditt användarkonto' / 'Fakturera din arbetsgivare'"
    imr_advice = "IMR §4 rows 3-4 'Utvärdering och råd'"
    imr_mail = "IMR §5 'Informationsutskick'"
    imr_anon = "IMR §4 row 6 'Anonymisera personuppgifterna'"
    imr_claims = "IMR §4 row 7 'rättsligt anspråk'"
    out: dict[tuple[OrganizationKind, Category], tuple[Processing, ...]] = {}
    P, B = ProcessingPurpose, Basis
    for cat in (Category.IDENTITY, Category.CONTACT):
        out[(_IC, cat)] = (
            Processing(P.ACCOUNT, B.CONTRACT, ic_agreement),
            Processing(P.SERVICE_MESSAGES, B.CONTRACT, ic_agreement),
            Processing(P.SHARING_WITH_CARE, B.CONSENT, ic_sharing),
            Processing(P.USAGE_STATISTICS, B.LEGITIMATE_INTEREST, ic_interest),
        )
        out[(_IMR, cat)] = (
            Processing(P.PARTICIPANT_ACCOUNT, B.LEGITIMATE_INTEREST, imr_account),
            Processing(P.EMPLOYER_BILLING, B.LEGITIMATE_INTEREST, imr_account),
            Processing(P.EVALUATION_AND_ADVICE, B.LEGITIMATE_INTEREST, imr_advice),
            Processing(P.INFORMATION_MAILINGS, B.LEGITIMATE_INTEREST, imr_mail),
            Processing(P.LEGAL_CLAIMS, B.LEGITIMATE_INTEREST, imr_claims),
        )
    out[(_IMR, Category.OCCUPATION)] = (
        Processing(P.EVALUATION_AND_ADVICE, B.LEGITIMATE_INTEREST, imr_advice),
        Processing(P.INFORMATION_MAILINGS, B.LEGITIMATE_INTEREST, imr_mail),
    )
    for cat in _IC_HEALTH:
        out[(_IC, cat)] = (
            Processing(P.SELF_CARE, B.CONSENT, ic_consent),
            Processing(P.SHARING_WITH_CARE, B.CONSENT, ic_sharing),
            Processing(P.SAFETY_MONITORING, B.LEGITIMATE_INTEREST, ic_interest),
        )
    for cat in _IMR_HEALTH:
        out[(_IMR, cat)] = (
            Processing(P.EVALUATION_AND_ADVICE, B.CONSENT, imr_advice),
            Processing(P.ANONYMIZED_DEVELOPMENT, B.CONSENT, imr_anon),
        )
    return out


#: (controller, category) -> why it is processed and on which basis, as each policy states it
PROCESSING: dict[tuple[OrganizationKind, Category], tuple[Processing, ...]] = _table()

#: processing that does not depend on the category: emergency access (ImagineCare §3 'vital
#: interests': "We always notify you in cases where we carry out such treatment") and bookkeeping
VITAL_INTERESTS = Processing(
    ProcessingPurpose.VITAL_INTERESTS,
    Basis.BREAK_GLASS,
    "ImagineCare §3 'Personal data processing that is necessary to protect vital interests'",
)
BOOKKEEPING_PROCESSING = Processing(
    ProcessingPurpose.BOOKKEEPING,
    Basis.LEGAL_OBLIGATION,
    "IMR 'Lagringsperiod': 'Personuppgifter som vi måste behandla för att uppfylla krav i bokföringslagen'",
)


# --------------------------------------------------------------------------- retention rules

IMR_ANONYMIZATION_REQUEST = Rule(
    "imr.anonymization_request",
    1,
    "IMR 'Lagringsperiod' (i): 'du kontaktar oss och ber om att få dina personuppgifter anonymiserade'",
)
IMR_CONTRACT_ENDED = Rule(
    "imr.employer_contract_ended",
    1,
    "IMR 'Lagringsperiod' (ii): 'sex månader efter att din arbetsgivare avslutar samarbetet med IMR'",
)
IMR_LAST_MEETING = Rule(
    "imr.last_meeting",
    1,
    "IMR 'Lagringsperiod' (iii): '12 månader efter ditt senaste deltagande i ett möte med oss'",
)
BOOKKEEPING = Rule(
    "imr.bookkeeping",
    1,
    "IMR 'Lagringsperiod': 't.o.m. det sjunde året efter utgången av det kalenderår då räkenskapsåret "
    "avslutades' (Bokföringslagen 1999:1078, 7 kap. 2 §)",
)
IMAGINECARE_ACCOUNT_CLOSED = Rule(
    "imaginecare.account_closed",
    1,
    "ImagineCare §5: 'When you close your ImagineCare account, we will delete all your personal "
    "information'; 'Withdrawal of consent': '... your personal data will be deleted'",
)

RETENTION_RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        IMR_ANONYMIZATION_REQUEST,
        IMR_CONTRACT_ENDED,
        IMR_LAST_MEETING,
        BOOKKEEPING,
        IMAGINECARE_ACCOUNT_CLOSED,
    )
}

#: IMR keeps a participant's data this long after the employer's contract ends (rule ii) ...
CONTRACT_ENDED_MONTHS = 6
#: ... and this long after the participant's last meeting (rule iii)
LAST_MEETING_MONTHS = 12
#: bookkeeping: through this many calendar years after the one in which the fiscal year ended
BOOKKEEPING_YEARS = 7


def add_months(d: date, months: int) -> date:
    """``d`` plus whole calendar months; a day the target month lacks becomes its last day
    (31 August + 6 months = 28 or 29 February)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    first_of_next = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(d.day, (first_of_next - timedelta(days=1)).day))


@dataclass(frozen=True, slots=True)
class Due:
    """The first day on which the data is no longer kept, and the rule that sets it."""

    on: date
    rule: Rule

    def is_due(self, today: date) -> bool:
        """Kept through the day before ``on``; removed by a run on ``on`` or later."""
        return today >= self.on


def imr_due(
    *,
    anonymization_requested: date | None,
    contract_end: date | None,
    last_meeting: date | None,
) -> Due | None:
    """The earliest of IMR's three retention limits that applies (IMR 'Lagringsperiod').

    ``contract_end`` is the last day of the employer's contract; ``last_meeting`` the day of the
    person's last meeting (or, until meetings are recorded, their last contact: see
    ``services/retention.py``). Ties go to the rule listed first in the policy.
    """
    candidates: list[Due] = []
    if anonymization_requested is not None:
        candidates.append(Due(anonymization_requested, IMR_ANONYMIZATION_REQUEST))
    if contract_end is not None:
        candidates.append(Due(add_months(contract_end, CONTRACT_ENDED_MONTHS), IMR_CONTRACT_ENDED))
    if last_meeting is not None:
        candidates.append(Due(add_months(last_meeting, LAST_MEETING_MONTHS), IMR_LAST_MEETING))
    if not candidates:
        return None
    return min(candidates, key=lambda d: d.on)


def fiscal_year_end(on: date, end_month: int = 12) -> date:
    """The last day of the fiscal year that contains ``on``, for a fiscal year ending with month
    ``end_month`` (12: the calendar year)."""
    if not 1 <= end_month <= 12:
        raise ValueError("end_month must be 1-12")
    year = on.year if on.month <= end_month else on.year + 1
    return add_months(date(year, end_month, 1), 1) - timedelta(days=1)


def bookkeeping_keep_until(fiscal_year_ended: date) -> date:
    """The last day bookkeeping records of a fiscal year ending on ``fiscal_year_ended`` are kept:
    31 December of the seventh year after the calendar year in which the fiscal year ended."""
    return date(fiscal_year_ended.year + BOOKKEEPING_YEARS, 12, 31)


def age_band(birth_year: int, in_year: int, width: int = 10) -> str:
    """The age band (e.g. ``"40-49"``) of someone born in ``birth_year`` during ``in_year``: what an
    anonymized record keeps instead of a birth date."""
    age = max(0, in_year - birth_year)
    low = age // width * width
    return f"{low}-{low + width - 1}"
