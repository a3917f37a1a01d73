"""Shared pieces of the auditor API: permissions, pagination, filters, CSV export, errors."""
