"""Per-bucket work run in this process or as tasks on a Dask cluster (`--cluster`)."""
