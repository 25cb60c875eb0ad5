"""Personas and business context: org-chart import, documents, scoped retrieval, leak guard, agent runtime."""
