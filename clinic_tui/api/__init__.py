"""The backend contract: pydantic wire schemas and the typed async client. No Textual here."""
