"""Docked editing panels. Each panel edits the `Document` and mirrors its events."""
