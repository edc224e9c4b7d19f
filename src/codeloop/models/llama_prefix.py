"""The system message's part of llama.cpp's context: read once, restored for later calls.

Every call starts from a clean context (models.local says why), so every call read its
system message again: for a review, 160 of its ~500 prompt tokens, at about 8 ms each on
a 2-core CPU without AVX-512 (bench/bench_review.py). Now the system message is read as
a batch of its own, first, and the context it leaves is kept; a later call with the same
system message restores it and reads only the rest. Read now or restored, the system
message was read the same way, so a reply still never depends on which calls ran before it.

Only for chat templates in ChatML form (the embedded Qwen model's), where the system
message is a fixed prefix of the prompt. Another template reads the whole prompt, as before.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

CHATML_SYSTEM = "<|im_start|>system\n{}<|im_end|>\n"
KEPT = 4  # the loop has two system messages (generation and review); a few spare
SEQUENCE = 0  # llama-cpp-python's one sequence


class SystemPrefixes:
    """Readies the context for a prompt: clean, or holding its system message's part."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        template = str(getattr(llama, "metadata", {}).get("tokenizer.chat_template", ""))
        self.chatml = "<|im_start|>" in template
        self.states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()

    def start(self, messages: Sequence[dict[str, Any]]) -> None:
        """Clear the context, then put the system message's part in it.

        A part read now is saved, cleared and restored like one read before, so the
        context every call starts from is laid out the same either way: read fresh, it
        had differed from a restored one in llama.cpp's cache cells, enough to change a
        greedy reply after ~150 tokens.
        """
        self._clear()
        if not (self.chatml and messages and messages[0]["role"] == "system"):
            return
        text = CHATML_SYSTEM.format(messages[0]["content"])
        tokens = self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        key = tuple(tokens)
        if key not in self.states:
            self.llama.eval(tokens)
            self.states[key] = self._saved()
            self._clear()
            if len(self.states) > KEPT:
                self.states.popitem(last=False)
        self.states.move_to_end(key)
        self._restore(self.states[key], tokens)

    def _clear(self) -> None:
        """An empty context: no tokens, every cache cell free, the next one the first."""
        import llama_cpp

        self.llama.reset()
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.llama._ctx.ctx), True)

    def _saved(self) -> bytes:
        import llama_cpp

        ctx = self.llama._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, SEQUENCE)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, SEQUENCE)
        return bytes(buffer)[:written]

    def _restore(self, state: bytes, tokens: list[int]) -> None:
        """Put a saved part back; llama-cpp-python then reads only what follows it."""
        import llama_cpp

        buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        ctx = self.llama._ctx.ctx
        if llama_cpp.llama_state_seq_set_data(ctx, buffer, len(state), SEQUENCE) == 0:
            self._clear()  # not restored: the whole prompt is read, as without a prefix
            return
        self.llama.input_ids[: len(tokens)] = tokens
        self.llama.n_tokens = len(tokens)
        self.llama._requires_eval = True
