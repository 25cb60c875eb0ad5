"""Piccolo tables of the channels domain."""
