"""Insights: mining conversations for risks and opportunities, scoring, digests, evaluation against truths."""
