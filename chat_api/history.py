"""Conversation history per `conversation_id`, bounded in turns, size and number of conversations.

A turn is one user message and everything that followed it (assistant replies, tool calls and
their results). Trimming removes whole turns from the oldest end, so a tool result never
loses the call it answers. The newest turn is always kept, even when it alone is over the
size bound. Conversations live in memory; the least recently used is dropped first.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence

import anyio

from .llm.base import AssistantMessage, Message, ToolResultMessage, UserMessage

Turn = tuple[Message, ...]


def message_size(message: Message) -> int:
    """Characters a message contributes to the model's context."""
    if isinstance(message, UserMessage):
        return len(message.text)
    if isinstance(message, AssistantMessage):
        return len(message.text) + sum(len(c.name) + len(c.arguments) for c in message.tool_calls)
    assert isinstance(message, ToolResultMessage)
    return len(message.content)


def turn_size(turn: Turn) -> int:
    """Characters of a whole turn."""
    return sum(message_size(m) for m in turn)


def trim_turns(turns: Sequence[Turn], *, max_turns: int, max_chars: int) -> list[Turn]:
    """The newest turns that fit both bounds (at least the newest one)."""
    kept: list[Turn] = []
    total = 0
    for turn in reversed(turns):
        size = turn_size(turn)
        if kept and (len(kept) >= max_turns or total + size > max_chars):
            break
        kept.append(turn)
        total += size
    kept.reverse()
    return kept


class ConversationStore:
    """In-memory conversations, each a list of turns; one chat at a time per conversation."""

    def __init__(self, *, max_turns: int, max_chars: int, max_conversations: int) -> None:
        self.max_turns = max_turns
        self.max_chars = max_chars
        self.max_conversations = max_conversations
        self._turns: OrderedDict[str, list[Turn]] = OrderedDict()
        self._locks: dict[str, anyio.Lock] = {}

    def __len__(self) -> int:
        return len(self._turns)

    @staticmethod
    def new_id() -> str:
        """A fresh conversation id."""
        return uuid.uuid4().hex

    def lock(self, conversation_id: str) -> anyio.Lock:
        """The lock that serialises chats in one conversation (two tabs sending at once)."""
        if len(self._locks) > 2 * self.max_conversations:
            # Chats that failed before their first turn leave locks behind; forget the idle ones.
            self._locks = {k: v for k, v in self._locks.items() if v.locked() or k in self._turns}
        return self._locks.setdefault(conversation_id, anyio.Lock())

    def messages(self, conversation_id: str) -> list[Message]:
        """The conversation so far, oldest first (empty for an unknown id)."""
        turns = self._turns.get(conversation_id, [])
        if conversation_id in self._turns:
            self._turns.move_to_end(conversation_id)
        return [message for turn in turns for message in turn]

    def add_turn(self, conversation_id: str, turn: Sequence[Message]) -> None:
        """Append one finished turn, then enforce every bound."""
        turns = [*self._turns.get(conversation_id, []), tuple(turn)]
        self._turns[conversation_id] = trim_turns(turns, max_turns=self.max_turns, max_chars=self.max_chars)
        self._turns.move_to_end(conversation_id)
        while len(self._turns) > self.max_conversations:
            dropped, _ = self._turns.popitem(last=False)
            lock = self._locks.get(dropped)
            if lock is not None and not lock.locked():
                del self._locks[dropped]
