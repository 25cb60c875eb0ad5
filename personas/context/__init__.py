"""Business context: documents and their chunks (:mod:`.documents`), label-scoped retrieval (:mod:`.retrieval`),
the leak guard on every post (:mod:`.leakguard`) and the text helpers they share (:mod:`.text`)."""
