"""Access control: the pure policy decision, the facts it reads, the one guard, projection, data map."""
