"""Helpers of the project launcher ``./dev`` (stdlib only, Python >= 3.10)."""
