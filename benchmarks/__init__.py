"""Speed benchmarks (run by hand, reported in notes; not timed tests)."""
