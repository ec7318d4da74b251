"""clinic-tui: a keyboard-driven terminal app for people who handle health data."""

__version__ = "0.1.0"
CLIENT_NAME = "clinic-tui"
