"""Piccolo tables of the personas domain."""
