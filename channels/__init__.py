"""Channels, membership, messages, threads, reactions, the WebSocket protocol, fan-out and the Python client."""
