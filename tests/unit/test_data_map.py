"""The data map covers every column of every table, so a new column cannot slip past it."""

from clinic_server.access.data_map import BY_TABLE, HOLDINGS, NOT_ABOUT_PEOPLE, Kind, holdings_of
from clinic_server.db.models import Base
from clinic_tui.api.schemas import Contact, PatientSummary
from clinic_tui.domain.categories import Category


def _refers_to(table, target: str) -> bool:
    return any(fk.column.table.name == target for col in table.columns for fk in col.foreign_keys)


def test_every_table_is_either_mapped_or_declared_not_about_people():
    tables = set(Base.metadata.tables)
    unmapped = tables - set(BY_TABLE) - NOT_ABOUT_PEOPLE
    assert not unmapped, f"add these tables to clinic_server/access/data_map.py: {sorted(unmapped)}"
    assert not (set(BY_TABLE) & NOT_ABOUT_PEOPLE)


def test_every_column_of_a_mapped_table_is_classified():
    for holding in HOLDINGS:
        table = Base.metadata.tables[holding.table]
        actual = {c.name for c in table.columns}
        missing, gone = sorted(actual - set(holding.columns)), sorted(set(holding.columns) - actual)
        assert not missing and not gone, f"{holding.table}: classify {missing} in the data map; drop {gone}"
        assert holding.columns[holding.link] in (Kind.LINK, Kind.AUDIT)


def test_a_table_that_refers_to_a_person_is_mapped():
    for name, table in Base.metadata.tables.items():
        if _refers_to(table, "person"):
            assert name in BY_TABLE, f"{name} refers to a person: put it in the data map"
    # a table "not about people" never refers to one
    for name in NOT_ABOUT_PEOPLE & set(Base.metadata.tables):
        assert not _refers_to(Base.metadata.tables[name], "person"), name


def test_the_person_columns_projection_shows_are_the_wire_fields():
    identity = BY_TABLE["person"].of(Category.IDENTITY)
    assert set(identity) <= set(PatientSummary.model_fields)
    assert set(BY_TABLE["person"].of(Category.CONTACT)) == set(Contact.model_fields)


def test_holdings_of_a_category_name_real_columns():
    vitals = {h.table for h, _ in holdings_of(Category.VITALS)}
    assert {"observation", "alert", "threshold_override"} <= vitals
