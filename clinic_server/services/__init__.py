"""Business rules behind the routes: alerts, ingestion, consents, break-the-glass, sessions."""
