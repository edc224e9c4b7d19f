"""Several replies to one prompt, decoded together in one llama.cpp batch.

On a CPU, writing a token costs mostly reading the model's weights, and a batch of N
tokens (one per reply) reads them once: on 2 cores, 2 sequences give 1.26x the tokens per
second of one, 4 give 1.76x (`bench/bench_batch_decode.py`). The prompt is read once and
shared by every reply (llama.cpp's `seq_cp` on one unified cache). So N candidates cost
less than N calls, though more than one: the batch lasts as long as its longest reply.

llama-cpp-python's high-level `Llama` decodes one sequence, so this drives its low-level
bindings: a context of its own (`n_seq_max` sequences), one batch per step, and per
reply a sampler chain built like `Llama.create_completion`'s (top-k 40, top-p 0.95,
min-p 0.05, temperature, a seed of its own; greedy at temperature 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BATCH_TOKENS = 512
RUNAWAY = 2
"""Once one reply has ended, the others may write this many times its tokens: every reply
costs the batch's time until the longest ends, and a reply far longer than a finished
sibling is mostly one that runs on (on HumanEval/1, 1024 tokens against 218-262)."""
TOP_K, TOP_P, MIN_P = 40, 0.95, 0.05  # llama-cpp-python's create_completion defaults


@dataclass
class Candidate:
    """One reply: its text, tokens written, and why it ended ("stop" or "length")."""

    text: str = ""
    tokens: int = 0
    finish: str | None = None
    data: bytearray = field(default_factory=bytearray, repr=False)


class CandidateDecoder:
    """A llama.cpp context for up to `width` sequences over an already loaded model.

    Made and used on the engine's thread only, like every call into llama.cpp.
    """

    def __init__(self, llama: Any, width: int, n_ctx: int) -> None:
        import llama_cpp

        self.lib, self.llama, self.width = llama_cpp, llama, width
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_seq_max, params.kv_unified = n_ctx, width, True
        params.n_batch = params.n_ubatch = BATCH_TOKENS
        params.n_threads = params.n_threads_batch = llama.context_params.n_threads
        self.ctx = llama_cpp.llama_init_from_model(llama._model.model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not make a context for several candidates")
        self.n_ctx = int(llama_cpp.llama_n_ctx(self.ctx))
        self.chunk = int(llama_cpp.llama_n_batch(self.ctx))  # at most n_ctx
        self.batch = llama_cpp.llama_batch_init(max(self.chunk, width), 0, width)
        self.vocab = llama_cpp.llama_model_get_vocab(llama._model.model)

    def close(self) -> None:
        """Free the context and the batch (llama.cpp memory, not Python's)."""
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.ctx)

    def write(
        self, prompt: list[int], count: int, *, temperature: float, seed: int,
        max_tokens: int, stop: list[str], enough: Callable[[str], Any] | None,
        deadline: float,
    ) -> list[Candidate]:
        """`count` replies to `prompt`; TimeoutError once `deadline` (monotonic) passes.

        Each ends at the end token, a stop string, `enough` or `max_tokens` (lowered to
        RUNAWAY times the tokens of the first reply to end).
        """
        if not 0 < count <= self.width:
            raise ValueError(f"between 1 and {self.width} candidates, not {count}")
        lib = self.lib
        lib.llama_memory_clear(lib.llama_get_memory(self.ctx), True)
        samplers = [self._sampler(temperature, seed + n) for n in range(count)]
        try:
            last = self._read(prompt)
            for n in range(1, count):
                lib.llama_memory_seq_cp(lib.llama_get_memory(self.ctx), 0, n, -1, -1)
            replies = [Candidate() for _ in range(count)]
            rows = {n: last for n in range(count)}  # sequence -> its logits' row in the batch
            position = len(prompt)
            while rows:
                if time.monotonic() > deadline:
                    raise TimeoutError("the candidates took longer than their time budget")
                written = {n: lib.llama_sampler_sample(samplers[n], self.ctx, row)
                           for n, row in rows.items()}
                rows = {}
                for n, token in written.items():
                    if self._grow(replies[n], token, stop, enough, max_tokens):
                        rows[n] = len(rows)
                    elif replies[n].finish == "stop":
                        max_tokens = min(max_tokens, RUNAWAY * replies[n].tokens)
                if rows and not self._step([(written[n], n) for n in rows], position):
                    for n in rows:  # the context is full: they end here, like at max_tokens
                        replies[n].finish = "length"
                    rows = {}
                position += 1
            return replies
        finally:
            for sampler in samplers:
                lib.llama_sampler_free(sampler)

    def _grow(self, reply: Candidate, token: int, stop: list[str],
              enough: Callable[[str], Any] | None, max_tokens: int) -> bool:
        """Add `token` to `reply`; False once the reply has ended."""
        if self.lib.llama_vocab_is_eog(self.vocab, token):
            reply.finish = "stop"
            return False
        reply.data += self.llama.detokenize([token], special=False)
        reply.tokens += 1
        reply.text = reply.data.decode("utf-8", errors="ignore")
        cut = min((reply.text.find(s) for s in stop if s in reply.text), default=-1)
        if cut >= 0:
            reply.text, reply.finish = reply.text[:cut], "stop"
        elif enough is not None and enough(reply.text) is not None:
            reply.finish = "stop"
        elif reply.tokens >= max_tokens:
            reply.finish = "length"
        return reply.finish is None

    def _read(self, prompt: list[int]) -> int:
        """Read the prompt into sequence 0, in batches; the row of its last token's logits."""
        if len(prompt) >= self.n_ctx:
            raise ValueError(f"the prompt ({len(prompt)} tokens) does not fit the context "
                             f"({self.n_ctx} tokens)")
        for start in range(0, len(prompt), self.chunk):
            part = prompt[start:start + self.chunk]
            status = self._fill([(token, 0) for token in part], start,
                                last_logits=start + len(part) == len(prompt))
            if status != 0:
                raise RuntimeError(f"llama.cpp could not read the prompt (status {status})")
        return (len(prompt) - 1) % self.chunk

    def _step(self, tokens: list[tuple[int, int]], position: int) -> bool:
        """Decode one token per sequence, all at `position`; False if they do not fit."""
        return self._fill(tokens, position, every_logit=True) == 0

    def _fill(self, tokens: list[tuple[int, int]], position: int,
              last_logits: bool = False, every_logit: bool = False) -> int:
        batch = self.batch
        batch.n_tokens = len(tokens)
        for i, (token, sequence) in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = position if every_logit else position + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = sequence
            batch.logits[i] = every_logit or (last_logits and i == len(tokens) - 1)
        return int(self.lib.llama_decode(self.ctx, batch))

    def _sampler(self, temperature: float, seed: int) -> Any:
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if temperature <= 0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        parts = (lib.llama_sampler_init_top_k(TOP_K), lib.llama_sampler_init_top_p(TOP_P, 1),
                 lib.llama_sampler_init_min_p(MIN_P, 1), lib.llama_sampler_init_temp(temperature),
                 lib.llama_sampler_init_dist(seed))
        for part in parts:
            lib.llama_sampler_chain_add(chain, part)
        return chain
