"""Chorus core: settings, database engines, labels, actors, errors, the audit trail, the app and the CLI."""
