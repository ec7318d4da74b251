"""SQLAlchemy 2 models, one module per area. Schema changes go through Alembic (``db/migrations``).

Every model is imported here so that ``Base.metadata`` is complete and ``from clinic_server.db.models
import X`` works for all of them; a new area adds its module below.
"""

from clinic_server.db.models.access import BreakGlassGrant
from clinic_server.db.models.audit import AuditCheckpoint, AuditEvent, AuditHead, AuditShardHead
from clinic_server.db.models.auth import FailureTally, LoginThrottle, RefreshToken, User
from clinic_server.db.models.base import Base, new_id
from clinic_server.db.models.coaching import (
    CoachingAssessment,
    CoachingFitnessTest,
    CoachingMeasurement,
    CoachingMeeting,
    CoachingNote,
    CoachingQuestionnaire,
    CoachingRevision,
    IdempotencyKey,
    ProfilingObjection,
)
from clinic_server.db.models.findings import (
    BreakGlassVerdict,
    CoachEmployer,
    Finding,
    FindingCursor,
    FindingVerdict,
    UserActivity,
    UserLink,
)
from clinic_server.db.models.jobs import JobRun
from clinic_server.db.models.monitoring import Alert, AlertEvent, Device, Observation, ThresholdOverride
from clinic_server.db.models.people import (
    CoachAssignment,
    Condition,
    Consent,
    Employer,
    Organization,
    Person,
    PersonNotice,
    RecordEntry,
)
from clinic_server.db.models.reports import IssuedReport, ReportPopulation
from clinic_server.db.models.rights import (
    AnonymizedRecord,
    BillingRecord,
    IntegrationClient,
    LegalHold,
    Objection,
    PersonCorrection,
    SubjectRequest,
)

__all__ = [
    "IssuedReport",
    "ReportPopulation",
    "Alert",
    "AnonymizedRecord",
    "BillingRecord",
    "IntegrationClient",
    "LegalHold",
    "Objection",
    "PersonCorrection",
    "SubjectRequest",
    "AlertEvent",
    "AuditEvent",
    "AuditCheckpoint",
    "AuditHead",
    "AuditShardHead",
    "Base",
    "BreakGlassGrant",
    "BreakGlassVerdict",
    "CoachAssignment",
    "CoachEmployer",
    "CoachingAssessment",
    "CoachingFitnessTest",
    "CoachingMeasurement",
    "CoachingMeeting",
    "CoachingNote",
    "CoachingQuestionnaire",
    "CoachingRevision",
    "Condition",
    "Consent",
    "Device",
    "Employer",
    "FailureTally",
    "Finding",
    "FindingCursor",
    "FindingVerdict",
    "IdempotencyKey",
    "JobRun",
    "LoginThrottle",
    "Observation",
    "Organization",
    "Person",
    "PersonNotice",
    "ProfilingObjection",
    "RecordEntry",
    "RefreshToken",
    "ThresholdOverride",
    "User",
    "UserActivity",
    "UserLink",
    "new_id",
]
