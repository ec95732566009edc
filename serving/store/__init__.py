"""The score store: scoring runs, their scores, reasons and evidence, in SQLite or PostgreSQL.

`score_store.ScoreStore` is the one way in; the other modules are its schema, row
encoding, queries, summaries, pruning and the cached list pages the API answers from.
Nothing here imports the web page.
"""
