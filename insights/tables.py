"""Piccolo tables of the insights domain."""
