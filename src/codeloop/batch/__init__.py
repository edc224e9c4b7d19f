"""Many runs: a tasks file, run concurrently as durable runs, and the batch's summary.

- tasks: reading and checking the tasks file;
- runner: planning and running the tasks (threads), stopping cleanly;
- outcome: how each task stands after an invocation;
- summary: summary.json and summary.md.
"""
