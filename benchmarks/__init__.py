"""Benchmarks of the audit trail: `make bench` (python -m benchmarks.run)."""
