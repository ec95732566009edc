"""Source-data contract, loading and validation, the simulator, point-in-time features.

The first stage of churnlens: everything here turns raw customer history into frames
that are safe to learn from. Nothing in this package imports `training` or `serving`.
"""
