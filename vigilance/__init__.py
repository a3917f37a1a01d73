"""Vigilance: what crosses the apps when something goes wrong — a batch's recall and its
lookback, serious adverse reaction notifications, expiry of stock — and the FHIR server
(`vigilance.fhir`). Above dosing, batches and patients: it calls their services, never
the reverse."""
