"""Placeholder until the window lands (see app/gui)."""
