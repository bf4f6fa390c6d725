"""Where a cold start's Init Duration goes, per language: ``probes`` (how each runtime's own
profiling is switched on and read) and ``tree`` (one init as a tree of parts and items, and
the median tree of several). The `coldbench profile` workflow is
``coldbench.workflows.profile`` (its document ``coldbench.workflows.profile_document``);
its terminal table and icicle chart are ``coldbench.render.profile``.
"""
