"""Is the model still right? Each scoring run judged against the model's reference profile
(drift), against the outcomes of the terms it scored (realised performance), and summed up
in a verdict: ok, watch or retrain (`churnlens monitor`)."""
