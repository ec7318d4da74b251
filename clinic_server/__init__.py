"""clinic-server: the backend API behind clinic-tui."""

__version__ = "0.1.0"
