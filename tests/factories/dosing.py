"""Factories for dosing (owned by the patients/dosing work)."""
