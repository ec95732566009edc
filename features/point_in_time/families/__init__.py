"""Feature families: pure functions from the snapshot spine and a source table to features.

Each module returns a frame aligned with the spine rows, with exactly the columns the
catalog declares for it, and asks every time question through `features.point_in_time.windows`.
"""
