"""`bench demo`: a synthetic suite generated offline, evaluated end to end with built-in baselines."""
