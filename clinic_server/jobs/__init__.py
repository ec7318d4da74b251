"""Scheduled server work: job claiming and the periodic runner, the missing-data sweep."""
