"""Measure how good the loop is: benchmarks scored with tests the loop never sees."""
