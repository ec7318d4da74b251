"""Wire schemas shared by the server (response models) and the client (parsing).

Every personal-data response says which categories were withheld, so the UI can show
"not shared by the patient" instead of a blank.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["nurse", "coach", "supervisor"]


class Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Wire):
    code: str
    message: str
    retry_after: int | None = None


class DemoAccount(Wire):
    username: str
    role: Role
    organization: str
    password: str


class ServerInfo(Wire):
    name: str
    version: str
    api: str = "v1"
    demo: bool
    demo_accounts: list[DemoAccount] = []


class LoginRequest(Wire):
    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1024)
    otp: str | None = Field(default=None, max_length=10)


class RefreshRequest(Wire):
    refresh_token: str = Field(min_length=10, max_length=200)


class UserInfo(Wire):
    id: str
    username: str
    display_name: str
    role: Role
    organization_id: str
    organization_name: str


class TokenPair(Wire):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    user: UserInfo


class PatientSummary(Wire):
    id: str
    #: what to call the person on screen: the name when identity is shared, else a pseudonym
    label: str
    given_name: str | None = None
    family_name: str | None = None
    personnummer: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    conditions: list[str] | None = None
    #: categories this user may see for this person
    shared: list[str]
    #: categories that exist in the model but are not shared with this user
    withheld: list[str]
    #: "consent", "legitimate_interest" or "break_glass"
    access_basis: str
    break_glass_until: datetime | None = None


class PatientPage(Wire):
    items: list[PatientSummary]
    next_cursor: str | None = None


class Contact(Wire):
    phone: str | None = None
    email: str | None = None
    address: str | None = None


class Occupation(Wire):
    employer: str | None = None
    job_title: str | None = None


class LatestValue(Wire):
    loinc: str
    key: str
    display: str
    value: float
    unit: str
    effective_at: datetime


class RecordOut(Wire):
    id: int
    category: str
    text: str
    created_at: datetime


class PatientDetail(PatientSummary):
    contact: Contact | None = None
    occupation: Occupation | None = None
    latest: list[LatestValue] | None = None
    records: list[RecordOut] = []
