"""The demo world: a realistic, reproducible dataset plus workflow states for every case."""
