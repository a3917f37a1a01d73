"""Factories for patients (owned by the patients/dosing work)."""
