"""The register extract as a readable Markdown document, in Swedish or English.

This is a document for the person (sent by the privacy officer), not UI text: the server renders
it from the same ``RegisterExtract`` the API returns, so the two never disagree. It names the
person by their opaque id only and holds no value of their data, like the extract itself. A code
this module has no word for is shown as the code.
"""

from __future__ import annotations

from datetime import date, datetime

from clinic_tui.api.schemas.rights import RegisterExtract

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Register extract",
        "intro": "What we hold about you, why, who has received it, who has accessed it, and for how long "
        "(GDPR art. 15). Your data itself is not in this document: ask for an export to receive it.",
        "reference": "Reference",
        "generated": "Generated",
        "controllers": "Who is responsible for your data",
        "held": "What we hold",
        "category": "Category",
        "count": "Entries",
        "from": "From",
        "to": "To",
        "where": "Held as",
        "purposes": "Why, and on what legal basis",
        "purpose": "Purpose",
        "basis": "Legal basis",
        "source": "Policy",
        "recipients": "Who may receive your data (your consents)",
        "organization": "Organization",
        "since": "Since",
        "until": "Until",
        "status": "Status",
        "coaches": "Your IMR coach",
        "accesses": "Every access to your data",
        "when": "When (UTC)",
        "who": "Who",
        "role": "Role",
        "action": "What",
        "outcome": "Outcome",
        "emergency": "EMERGENCY ACCESS (vital interests)",
        "notified": "you were notified",
        "notices": "Notices we sent you",
        "retention": "How long we keep it",
        "rule": "Rule",
        "due": "No longer kept from",
        "while_active": "while your account is active",
        "objections": "Your objections",
        "requests": "Your requests",
        "corrections": "Corrections of your data",
        "field": "Field",
        "by": "By",
        "why": "Why",
        "restricted": "Processing of your data is restricted (GDPR art. 18).",
        "holds": "Kept for a legal claim",
        "none": "None.",
        "active": "active",
        "inactive": "ended",
        "yes": "yes",
        "rights": "Your rights",
        "rights_text": "You may have incorrect data corrected, ask for your data to be erased or "
        "(IMR) anonymized, have processing restricted, object to profiling and to mailings, receive your "
        "data in a machine-readable format (FHIR), withdraw a consent at any time, and complain to "
        "Integritetsskyddsmyndigheten (IMY).",
    },
    "sv": {
        "title": "Registerutdrag",
        "intro": "Vilka personuppgifter vi behandlar om dig, varför, vem som har fått dem, vem som har tagit "
        "del av dem och hur länge de sparas (GDPR art. 15). Själva uppgifterna finns inte i detta dokument: "
        "begär en export för att få dem.",
        "reference": "Referens",
        "generated": "Upprättat",
        "controllers": "Personuppgiftsansvariga",
        "held": "Vilka uppgifter vi har",
        "category": "Kategori",
        "count": "Antal",
        "from": "Från",
        "to": "Till",
        "where": "Lagras som",
        "purposes": "Ändamål och rättslig grund",
        "purpose": "Ändamål",
        "basis": "Rättslig grund",
        "source": "Integritetspolicy",
        "recipients": "Mottagare (dina samtycken)",
        "organization": "Organisation",
        "since": "Sedan",
        "until": "Till",
        "status": "Status",
        "coaches": "Din IMR-coach",
        "accesses": "Varje åtkomst till dina uppgifter",
        "when": "När (UTC)",
        "who": "Vem",
        "role": "Roll",
        "action": "Vad",
        "outcome": "Utfall",
        "emergency": "NÖDÅTKOMST (vitala intressen)",
        "notified": "du underrättades",
        "notices": "Meddelanden vi har skickat dig",
        "retention": "Hur länge uppgifterna sparas",
        "rule": "Regel",
        "due": "Sparas inte längre från",
        "while_active": "så länge ditt konto är aktivt",
        "objections": "Dina invändningar",
        "requests": "Dina begäranden",
        "corrections": "Rättelser av dina uppgifter",
        "field": "Uppgift",
        "by": "Av",
        "why": "Varför",
        "restricted": "Behandlingen av dina uppgifter är begränsad (GDPR art. 18).",
        "holds": "Sparas för ett rättsligt anspråk",
        "none": "Inga.",
        "active": "aktiv",
        "inactive": "avslutad",
        "yes": "ja",
        "rights": "Dina rättigheter",
        "rights_text": "Du kan få felaktiga uppgifter rättade, begära radering eller (IMR) anonymisering, "
        "begära begränsning av behandlingen, invända mot profilering och informationsutskick, få ut dina "
        "uppgifter i ett maskinläsbart format (FHIR), när som helst återkalla ett samtycke och lämna "
        "klagomål till Integritetsskyddsmyndigheten (IMY).",
    },
}

#: words for codes: categories, purposes, bases, sources, controllers, rules, request kinds
TERMS: dict[str, dict[str, str]] = {
    "en": {
        "identity": "Identity",
        "contact": "Contact details",
        "conditions": "Conditions",
        "vitals": "Measurements",
        "questionnaires": "Questionnaires",
        "medications": "Medications",
        "history": "Medical history",
        "goals": "Goals",
        "social": "Social situation",
        "occupation": "Occupation",
        "fitness_tests": "Fitness tests",
        "profiling": "Profiling",
        "imaginecare": "ImagineCare AB",
        "imr": "IMR Institutet för Människor i Rörelse AB",
        "consent": "consent",
        "contract": "agreement with you",
        "legitimate_interest": "legitimate interest",
        "legal_obligation": "legal obligation",
        "break_glass": "vital interests",
        "account": "your account and support",
        "self_care": "your self-care (measure, store, analyse, notify)",
        "sharing_with_care": "sharing with the care providers you chose",
        "service_messages": "service messages",
        "safety_monitoring": "safety monitoring of the medical device",
        "usage_statistics": "anonymous usage statistics",
        "participant_account": "your participant account",
        "employer_billing": "billing your employer",
        "evaluation_and_advice": "evaluation and advice (incl. profiling)",
        "information_mailings": "information mailings",
        "anonymized_development": "anonymized development and research",
        "legal_claims": "legal claims",
        "bookkeeping": "bookkeeping",
        "care": "care",
        "coaching": "coaching",
        "statistics": "anonymized statistics",
        "mailings": "mailings",
        "person": "your profile",
        "observation": "measurements",
        "alert": "alerts",
        "alert_event": "alert handling",
        "threshold_override": "personal alert limits",
        "condition": "conditions",
        "record_entry": "entries",
        "person_correction": "corrections",
        "billing_record": "billing records",
        "imr.anonymization_request": "your anonymization request",
        "imr.employer_contract_ended": "6 months after your employer's contract with IMR ended",
        "imr.last_meeting": "12 months after your last meeting",
        "imr.bookkeeping": "bookkeeping: through the 7th year after the fiscal year",
        "imaginecare.account_closed": "when your ImagineCare account closes",
        "kept": "kept",
        "due": "due for removal",
        "held": "kept for a legal claim",
        "allowed": "allowed",
        "denied": "denied",
        "error": "error",
    },
    "sv": {
        "identity": "Identitet",
        "contact": "Kontaktuppgifter",
        "conditions": "Diagnoser",
        "vitals": "Mätvärden",
        "questionnaires": "Frågeformulär",
        "medications": "Läkemedel",
        "history": "Tidigare hälsoproblem",
        "goals": "Mål",
        "social": "Social situation",
        "occupation": "Sysselsättning",
        "fitness_tests": "Konditionstester",
        "profiling": "Profilering",
        "imaginecare": "ImagineCare AB",
        "imr": "IMR Institutet för Människor i Rörelse AB",
        "consent": "samtycke",
        "contract": "avtal med dig",
        "legitimate_interest": "intresseavvägning",
        "legal_obligation": "rättslig förpliktelse",
        "break_glass": "vitala intressen",
        "account": "ditt konto och support",
        "self_care": "din egenvård (mäta, lagra, analysera, notiser)",
        "sharing_with_care": "delning med de vårdgivare du valt",
        "service_messages": "driftinformation",
        "safety_monitoring": "säkerhetsuppföljning av den medicintekniska produkten",
        "usage_statistics": "anonym användningsstatistik",
        "participant_account": "ditt deltagarkonto",
        "employer_billing": "fakturering av din arbetsgivare",
        "evaluation_and_advice": "utvärdering och råd (inkl. profilering)",
        "information_mailings": "informationsutskick",
        "anonymized_development": "anonymiserad utveckling och forskning",
        "legal_claims": "rättsliga anspråk",
        "bookkeeping": "bokföring",
        "care": "vård",
        "coaching": "coachning",
        "statistics": "anonymiserad statistik",
        "mailings": "informationsutskick",
        "person": "din profil",
        "observation": "mätvärden",
        "alert": "larm",
        "alert_event": "larmhantering",
        "threshold_override": "personliga larmgränser",
        "condition": "diagnoser",
        "record_entry": "anteckningar",
        "person_correction": "rättelser",
        "billing_record": "faktureringsunderlag",
        "imr.anonymization_request": "din begäran om anonymisering",
        "imr.employer_contract_ended": "6 månader efter att din arbetsgivares avtal med IMR upphörde",
        "imr.last_meeting": "12 månader efter ditt senaste möte",
        "imr.bookkeeping": "bokföring: t.o.m. sjunde året efter räkenskapsåret",
        "imaginecare.account_closed": "när ditt ImagineCare-konto avslutas",
        "kept": "sparas",
        "due": "ska tas bort",
        "held": "sparas för rättsligt anspråk",
        "allowed": "tillåten",
        "denied": "nekad",
        "error": "fel",
    },
}


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def render(x: RegisterExtract, language: str = "sv") -> str:
    w, t = WORDS[language], TERMS[language]

    def term(code) -> str:
        return t.get(str(code), str(code))

    lines = [f"# {w['title']}", "", w["intro"], ""]
    lines += [f"- {w['reference']}: `{x.person_id}`", f"- {w['generated']}: {_cell(x.generated_at)} UTC", ""]
    if x.restricted:
        lines += [f"**{w['restricted']}**", ""]

    lines += [f"## {w['controllers']}", ""]
    lines += [f"- {term(c)}" for c in x.controllers] or [w["none"]]
    lines += ["", f"## {w['held']}", ""]
    if x.categories:
        lines += _table(
            [w["category"], w["count"], w["from"], w["to"], w["where"]],
            [
                [term(c.category), c.count, c.first, c.last, ", ".join(term(s.source) for s in c.sources)]
                for c in x.categories
            ],
        )
    else:
        lines.append(w["none"])
    lines += ["", f"## {w['purposes']}", ""]
    rows = [
        [term(c.category), term(p.controller), term(p.purpose), term(p.basis), p.source]
        for c in x.categories
        for p in c.purposes
    ]
    lines += (
        _table([w["category"], w["controllers"], w["purpose"], w["basis"], w["source"]], rows)
        if rows
        else [w["none"]]
    )

    lines += ["", f"## {w['recipients']}", ""]
    rows = [
        [
            c.organization_name,
            term(c.purpose),
            ", ".join(term(k) for k in c.categories),
            c.valid_from,
            c.withdrawn_at or c.valid_until,
            w["active"] if c.active else w["inactive"],
        ]
        for c in x.consents
    ]
    lines += (
        _table([w["organization"], w["purpose"], w["category"], w["since"], w["until"], w["status"]], rows)
        if rows
        else [w["none"]]
    )
    if x.coaches:
        lines += ["", f"### {w['coaches']}", ""]
        lines += _table(
            [w["organization"], w["since"], w["status"]],
            [[c.organization_name, c.since, w["active"] if c.active else w["inactive"]] for c in x.coaches],
        )

    lines += ["", f"## {w['accesses']}", ""]
    rows = []
    for a in x.accesses:
        what = a.action + (f" — **{w['emergency']}**" if a.emergency else "")
        if a.emergency and a.notice_at:
            what += f" ({w['notified']} {_cell(a.notice_at)})"
        rows.append([a.at, a.username, a.role, a.organization_name, what, term(a.purpose), term(a.outcome)])
    lines += (
        _table(
            [w["when"], w["who"], w["role"], w["organization"], w["action"], w["purpose"], w["outcome"]], rows
        )
        if rows
        else [w["none"]]
    )
    if x.notices:
        lines += ["", f"### {w['notices']}", ""]
        lines += [f"- {_cell(n.at)}: {n.kind}" for n in x.notices]

    lines += ["", f"## {w['retention']}", ""]
    rows = [
        [term(r.controller), term(r.rule_id), r.due_on if r.due_on else w["while_active"], term(r.status)]
        for r in x.retention
    ]
    lines += _table([w["controllers"], w["rule"], w["due"], w["status"]], rows) if rows else [w["none"]]

    for title, items in (
        (
            w["objections"],
            [
                f"- {term(o.kind)}: {_cell(o.objected_at)}"
                + (f" – {_cell(o.withdrawn_at)}" if o.withdrawn_at else "")
                for o in x.objections
            ],
        ),
        (w["requests"], [f"- {r.kind}: {_cell(r.received_on)} ({r.status})" for r in x.requests]),
        (
            w["holds"],
            [
                f"- {_cell(h.set_at)}" + (f" – {_cell(h.held_until)}" if h.held_until else "")
                for h in x.legal_holds
                if h.active
            ],
        ),
    ):
        lines += ["", f"## {title}", ""] + (items or [w["none"]])
    lines += ["", f"## {w['corrections']}", ""]
    rows = [[c.corrected_at, c.field, c.corrected_by, c.reason] for c in x.corrections]
    lines += _table([w["when"], w["field"], w["by"], w["why"]], rows) if rows else [w["none"]]
    lines += ["", f"## {w['rights']}", "", w["rights_text"], ""]
    return "\n".join(lines)
