"""The agent runtime: runs (:mod:`.runs`), who acts each round (:mod:`.scheduler`), prompts and posting (:mod:`.turns`),
budgets (:mod:`.budgets`), a stored run's conversation quality (:mod:`.quality`), and its own API, pages and CLI
(``chorus simulate``, ``chorus demo``), collected by :func:`personas.runtime.domain.parts`."""
