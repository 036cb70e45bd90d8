"""Models used across the handbook: small enough for a CPU, shaped like the big ones."""
