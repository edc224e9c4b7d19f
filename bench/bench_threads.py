"""llama.cpp called from one thread vs from each caller's thread: seconds for one solution.

    .venv/bin/python bench/bench_threads.py [--reps 3]

LangGraph runs each node on a thread of its pool, so model calls come from ever new
threads. llama.cpp computes with OpenMP, which keeps a team of threads per calling
thread; this times the same greedy reply (HumanEval/1's solution prompt) asked from a new
thread each time, first through codeloop's model (which hands every call to the engine's
one thread), then calling llama-cpp-python directly from each new thread, as codeloop
did before. In that order, because once other threads have called llama.cpp the
engine's thread is slowed too: the second half cannot spoil the first.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable

from codeloop.evals.humaneval import load_problems
from codeloop.models import load_model
from codeloop.nodes.common import prompts_for
from codeloop.nodes.enough import enough_solution


def on_new_thread(call: Callable[[], int]) -> tuple[int, float]:
    """Run `call` on a thread of its own; its tokens and seconds."""
    out: list[int] = []
    worker = threading.Thread(target=lambda: out.append(call()))
    started = time.perf_counter()
    worker.start()
    worker.join()
    return out[0], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    model = load_model("local")
    task = load_problems(offset=1, limit=1)[0].prompt
    messages = prompts_for(model).generation(task, "", None, None)  # the loop's first call
    request = model._request(messages, None, temperature=0.0, seed=0, max_tokens=1024)

    def through_engine() -> int:
        reply = model.invoke(messages, temperature=0.0, seed=0, max_tokens=1024,
                             enough=enough_solution)
        return reply.usage_metadata["output_tokens"]

    def direct() -> int:
        llama = model._engine.llama
        llama.reset()
        text, produced = "", 0
        for part in llama.create_chat_completion(**request):
            piece = part["choices"][0]["delta"].get("content")
            if piece:
                text, produced = text + piece, produced + 1
                if enough_solution(text) is not None:
                    break
        return produced

    through_engine()  # warm-up, on the engine's thread
    rows = {}
    for name, call in (("engine's one thread", through_engine), ("each caller's thread", direct)):
        runs = [on_new_thread(call) for _ in range(args.reps)]
        rows[name] = (runs[0][0], statistics.median(s for _, s in runs))
    base = rows["engine's one thread"][1]
    print(f"{'llama.cpp called from':<22} {'tokens':>6} {'median s':>9} {'vs one thread':>14}"
          f"   (reps={args.reps})")
    for name, (tokens, seconds) in rows.items():
        print(f"{name:<22} {tokens:6d} {seconds:9.2f} {seconds / base:13.2f}x")


if __name__ == "__main__":
    main()
