"""Thin routes: parse the request, call a service, return the wire model. Nothing else.

Every router here but ``info`` (public facts about the server) is an ``AuditedRouter``; a route
module never decides access, writes audit records, compares roles or imports another route module
(``tests/unit/test_architecture.py`` and the import-linter contracts check it).
"""

from clinic_server.api.routes import (
    alerts,
    audit,
    auth,
    breakglass,
    coaching,
    consents,
    findings,
    info,
    ingest,
    integration,
    patients,
    reports,
    rights,
    thresholds,
    vitals,
)

ROUTERS = [
    info.router,
    auth.router,
    patients.router,
    consents.router,
    breakglass.router,
    audit.router,
    findings.router,
    ingest.router,
    alerts.router,
    vitals.router,
    thresholds.router,
    rights.router,
    integration.router,
    coaching.router,
    reports.router,
]
