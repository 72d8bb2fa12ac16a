"""Benchmarks: `make bench`. They print figures and ratios against a baseline measured in the same run; they
never pass or fail (timing goals live here, not in the test suite)."""
