"""Piccolo tables of the sso domain."""
