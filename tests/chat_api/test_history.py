"""Conversation history: bounded in turns, size and conversations, trimmed by whole turns."""

from __future__ import annotations

from chat_api.history import ConversationStore, trim_turns
from chat_api.llm.base import AssistantMessage, ToolCall, ToolResultMessage, UserMessage


def turn(n: int, size: int = 10) -> tuple[UserMessage, AssistantMessage]:
    return (UserMessage(f"{n}".ljust(size, ".")), AssistantMessage(text="ok"))


def test_only_the_newest_turns_are_kept() -> None:
    kept = trim_turns([turn(1), turn(2), turn(3)], max_turns=2, max_chars=10_000)
    assert kept == [turn(2), turn(3)]


def test_size_trimming_drops_whole_turns_from_the_oldest_end() -> None:
    with_tools = (
        UserMessage("q"),
        AssistantMessage(tool_calls=(ToolCall("1", "t", "{}"),)),
        ToolResultMessage("1", "t", "r" * 50),
        AssistantMessage(text="a"),
    )
    kept = trim_turns([with_tools, turn(2, 40)], max_turns=10, max_chars=60)
    assert kept == [turn(2, 40)]


def test_the_newest_turn_is_kept_even_when_it_alone_is_too_big() -> None:
    assert trim_turns([turn(1), turn(2, 500)], max_turns=10, max_chars=100) == [turn(2, 500)]


def test_the_least_recently_used_conversation_is_forgotten_first() -> None:
    store = ConversationStore(max_turns=5, max_chars=1000, max_conversations=2)
    store.add_turn("a", turn(1))
    store.add_turn("b", turn(2))
    assert store.messages("a")  # "a" is now the most recently used
    store.add_turn("c", turn(3))
    assert len(store) == 2
    assert store.messages("b") == []
    assert store.messages("a") == list(turn(1))


def test_idle_locks_of_conversations_that_never_started_are_forgotten() -> None:
    store = ConversationStore(max_turns=5, max_chars=1000, max_conversations=1)
    for n in range(5):
        store.lock(f"failed-{n}")
    store.lock("new")
    assert len(store._locks) <= 2 * store.max_conversations + 1  # pyright: ignore[reportPrivateUsage]


def test_new_ids_are_unique() -> None:
    assert ConversationStore.new_id() != ConversationStore.new_id()
