"""Would decoding several candidates together pay on this CPU? Cost of one decode step for N sequences.

    .venv/bin/python bench/bench_batch_decode.py [--reps 20]

Decoding N candidates in parallel costs, per generated token of each, one llama.cpp decode
of N tokens (one per sequence) instead of N decodes of one token. This times exactly
that, with the embedded model and llama-cpp-python's own `eval`, after a shared prompt:
the figure to read is "speed-up vs one at a time", N sequential one-token steps over
one N-token step. Calls alternate so machine noise hits every N alike.
"""

from __future__ import annotations

import argparse
import statistics
import time

from llama_cpp import Llama

from codeloop.models.local import default_threads
from codeloop.models.model_file import resolve_model_file

PROMPT = b"def fizzbuzz(n):\n    result = []\n    for i in range(1, n + 1):\n"


def step_seconds(llama: Llama, prefix: list[int], width: int) -> float:
    """Seconds for one decode of `width` new tokens after `prefix` (restored each time)."""
    llama.n_tokens = len(prefix)
    started = time.perf_counter()
    llama.eval(prefix[-1:] * width)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    llama = Llama(model_path=str(resolve_model_file()), n_ctx=512, n_batch=64,
                  n_threads=default_threads(), verbose=False)
    prefix = llama.tokenize(PROMPT)
    llama.eval(prefix)
    widths = (1, 2, 4, 8)
    times: dict[int, list[float]] = {w: [] for w in widths}
    for _ in range(args.reps):
        for width in widths:
            times[width].append(step_seconds(llama, prefix, width))
    one = statistics.median(times[1])
    print(f"{'N':>2} {'ms per step':>12} {'speed-up vs one at a time':>27}   (reps={args.reps}, "
          f"threads={default_threads()})")
    for width in widths:
        median = statistics.median(times[width])
        print(f"{width:>2} {1000 * median:12.1f} {width * one / median:26.2f}x")


if __name__ == "__main__":
    main()
