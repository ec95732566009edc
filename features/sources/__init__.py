"""Customer data in: the source contract, readers for files and SQL, typing and validation.

Everything later stages know of a customer base comes through `loading.load_sources`,
which refuses a table that breaks the contract before anything is written. This package
imports nothing of the point-in-time features, the analyses or the simulator.
"""
