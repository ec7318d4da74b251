"""What the people's rights read from the data map is there for every holding: a new table with
its Holding is erased, counted, dated, exported and anonymized by construction, or fails here."""

from sqlalchemy import Date, DateTime

from clinic_server.access.data_map import BY_TABLE, HOLDINGS, Erasure, Kind
from clinic_server.db.models import Base
from clinic_server.services import fhir_export
from clinic_server.services.erasure import anonymized_category, ordered_holdings
from clinic_tui.domain.categories import HEALTH_CATEGORIES


def _is_date(table: str, column: str) -> bool:
    kind = Base.metadata.tables[table].c[column].type
    return isinstance(getattr(kind, "impl", kind), Date | DateTime)


def test_every_holding_dates_its_rows_with_a_date_column():
    for h in HOLDINGS:
        assert h.dated_by in h.columns, f"{h.table}: dated_by names no column"
        assert _is_date(h.table, h.dated_by), f"{h.table}.{h.dated_by} is not a date"


def test_anonymized_columns_are_one_health_category_and_never_identifying():
    anonymizing = [h for h in HOLDINGS if h.on_erasure == Erasure.ANONYMIZE]
    assert {h.table for h in anonymizing} >= {"observation", "condition"}
    for h in anonymizing:
        assert h.anonymized, f"{h.table}: say which columns an anonymized record keeps"
        assert anonymized_category(h) in HEALTH_CATEGORIES
        assert h.link not in h.anonymized
    for h in HOLDINGS:
        if h.on_erasure != Erasure.ANONYMIZE:
            assert not h.anonymized, f"{h.table} keeps columns but is not anonymized"


def test_retained_holdings_name_their_date_and_the_audit_log_is_the_only_one_kept():
    for h in HOLDINGS:
        if h.on_erasure == Erasure.RETAIN:
            assert h.retain_until and _is_date(h.table, h.retain_until)
            # unlinking needs a link that may be empty
            assert Base.metadata.tables[h.table].c[h.link].nullable
        else:
            assert h.retain_until is None
    # the access log and the record of its review (findings and their verdicts), which name people
    # by opaque id only
    assert [h.table for h in HOLDINGS if h.on_erasure == Erasure.KEEP] == [
        "audit_event",
        "finding",
        "finding_verdict",
    ]
    assert BY_TABLE["billing_record"].on_erasure == Erasure.RETAIN


def test_record_category_tables_name_their_category_column():
    for h in HOLDINGS:
        has = Kind.RECORD_CATEGORY in h.columns.values()
        assert bool(h.record_category) == has, h.table
        if has:
            assert h.columns[h.record_category] == Kind.RECORD_CATEGORY


def test_erasure_goes_children_first_and_the_person_last():
    order = [h.table for h in ordered_holdings()]
    assert set(order) == {h.table for h in HOLDINGS}
    assert order.index("person") > max(order.index(t) for t in order if t not in ("person", "audit_event"))
    assert order.index("alert_event") < order.index("alert")
    assert order.index("observation") < order.index("device")
    for h in HOLDINGS:
        for fk in Base.metadata.tables[h.table].foreign_keys:
            target = fk.column.table.name
            if target in BY_TABLE and target != h.table:
                assert order.index(h.table) < order.index(target), (h.table, target)


def test_every_holding_has_a_fhir_exporter():
    assert fhir_export.missing_exporters() == []
    assert set(fhir_export.EXPORTS) == {h.table for h in HOLDINGS}


def test_the_date_check_tells_dates_from_text():
    assert not _is_date("person", "given_name")
    assert _is_date("person", "birth_date") and _is_date("person", "created_at")
