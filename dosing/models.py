"""Models of the dosing app."""
