"""A run's life: its checkpointed thread and index entry, its progress, its result folder, Ctrl-C.

- store: where runs are kept (a LangGraph checkpointer and the index of runs beside it);
- runner: one task through the graph, with progress as it goes;
- durable: runs as resumable threads (create, drive, status);
- folders: the one writer of result folders;
- stopping: Ctrl-C that stops a run at a safe point.
"""
