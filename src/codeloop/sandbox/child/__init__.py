"""The sandbox's child side: the zygote, the per-run supervisor, confinement and the runner.

These modules run in the sandbox's own processes, never in codeloop's: they import only
the standard library, pytest, pyseccomp (optional: the syscall filter) and each other
(relatively), because the zygote loads this package by path without importing codeloop
or its dependencies.
"""
