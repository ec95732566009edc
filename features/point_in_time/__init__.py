"""Point-in-time features: the snapshot spine, labels, feature families and training sets.

One window helper (`windows`) owns the half-open `< as_of` convention; the spine
(`spine`, `terms`) says which accounts are active at each as_of and how their term
ended; the families compute features from the sources before as_of; the catalog names
and phrases every feature; `training_set` and `artifacts` build and store the sets that
training reads. Nothing here imports the analyses or the simulator.
"""
