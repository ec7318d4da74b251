"""Pure domain layer: no I/O, stdlib only."""
