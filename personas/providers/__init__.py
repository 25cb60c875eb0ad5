"""LLM providers for the agent runtime: the interface (:mod:`.base`) and the offline provider (:mod:`.offline`)."""
