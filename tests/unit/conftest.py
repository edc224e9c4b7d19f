"""Unit tests never touch the network: any socket connection attempt fails the test."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX:
            return original(self, address)
        raise RuntimeError(f"unit tests must not use the network (tried {address!r})")

    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
