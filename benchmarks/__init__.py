"""Performance comparisons against named baselines, printed as ratios (not timed tests)."""
