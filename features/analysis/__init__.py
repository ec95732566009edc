"""Views of a customer base for notebooks and the CLI: summaries, cohorts and volumes.

They read sources and training sets; nothing in the pipeline depends on them.
"""
