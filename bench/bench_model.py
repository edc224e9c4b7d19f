"""Tokens per second: codeloop's LangChain wrapper vs raw llama-cpp-python, same prompt, same run.

    .venv/bin/python bench/bench_model.py [--reps 3] [--tokens 256]

Calls alternate (raw, wrapper, raw, ...) after one warm-up each, so machine noise hits
both sides alike; the figure to read is the ratio of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

from langchain_core.messages import HumanMessage, SystemMessage

from codeloop.models import load_model

PROMPT = [
    ("system", "You are an expert Python developer."),
    ("user", "Write a Python module with five small, documented string utility functions."),
]


def raw_call(llama, tokens: int) -> tuple[int, float]:
    messages = [{"role": r, "content": c} for r, c in PROMPT]
    started = time.perf_counter()
    reply = llama.create_chat_completion(messages=messages, temperature=0.0, max_tokens=tokens, seed=0)
    return reply["usage"]["completion_tokens"], time.perf_counter() - started


def wrapper_call(model, tokens: int, stream: bool) -> tuple[int, float]:
    messages = [SystemMessage(PROMPT[0][1]), HumanMessage(PROMPT[1][1])]
    started = time.perf_counter()
    if stream:
        chunks = list(model.stream(messages, temperature=0.0, max_tokens=tokens, seed=0))
        produced = sum(c.usage_metadata["output_tokens"] for c in chunks if c.usage_metadata)
    else:
        produced = model.invoke(messages, temperature=0.0, max_tokens=tokens, seed=0).usage_metadata["output_tokens"]
    return produced, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=256)
    args = parser.parse_args()
    model = load_model("local")
    llama = model._engine.llama
    runs = {
        # On the engine's own thread, as the wrapper calls it (models.local.LlamaEngine).
        "raw llama-cpp-python": lambda: model._engine.thread.submit(
            raw_call, llama, args.tokens).result(),
        "wrapper invoke": lambda: wrapper_call(model, args.tokens, stream=False),
        "wrapper stream": lambda: wrapper_call(model, args.tokens, stream=True),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        run()  # warm-up: loads pages, fills the prompt cache
    for _ in range(args.reps):
        for name, run in runs.items():
            produced, seconds = run()
            rates[name].append(produced / seconds)
    raw = statistics.median(rates["raw llama-cpp-python"])
    print(f"{'path':<22} {'median tok/s':>12} {'vs raw':>8}   (reps={args.reps}, max_tokens={args.tokens})")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<22} {median:12.1f} {median / raw:8.1%}")


if __name__ == "__main__":
    main()
