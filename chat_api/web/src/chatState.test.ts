import { describe, expect, it } from "vitest";
import type { ChatEvent } from "./api";
import { type AssistantMessage, type ChatState, answerText, chatReducer, initialChat, isBusy } from "./chatState";

const METADATA = { mode: "multi" as const, tools_called: 1, servers_used: ["database"], duration_ms: 42 };

function run(...events: ChatEvent[]): ChatState {
  let state = chatReducer(initialChat, { type: "send", text: "question", userId: "u1", assistantId: "a1" });
  for (const event of events) state = chatReducer(state, { type: "event", assistantId: "a1", event });
  return state;
}

function assistant(state: ChatState): AssistantMessage {
  const message = state.messages[1];
  if (message?.role !== "assistant") throw new Error("no assistant message");
  return message;
}

function done(response: string, extra: Partial<typeof METADATA & { finish_reason: string }> = {}): ChatEvent {
  return {
    type: "done",
    response,
    tools_used: [],
    conversation_id: "c1",
    metadata: { ...METADATA, ...extra },
  };
}

describe("chatReducer", () => {
  it("adds the question and a streaming answer, and is busy until the answer is done", () => {
    const state = run();
    expect(state.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(isBusy(state)).toBe(true);
    expect(isBusy(run(done("ok")))).toBe(false);
  });

  it("appends text deltas and keeps the conversation id from the start event", () => {
    const state = run(
      { type: "start", conversation_id: "c1", mode: "multi" },
      { type: "text_delta", text: "Hel" },
      { type: "text_delta", text: "lo" },
    );
    expect(state.conversationId).toBe("c1");
    expect(answerText(assistant(state))).toBe("Hello");
  });

  it("follows a tool call from start through progress to its end, between narration and answer", () => {
    const state = run(
      { type: "text_delta", text: "Looking." },
      { type: "tool_call_started", id: "t1", name: "database__q", server: "database", arguments: { sql: "SELECT 1" } },
      { type: "tool_call_progress", id: "t1", name: "database__q", server: "database", progress: 2, total: 4, message: "half" },
      { type: "tool_call_finished", id: "t1", name: "database__q", server: "database", is_error: false, duration_ms: 12 },
      { type: "text_delta", text: "Found it." },
      done("Looking.Found it."),
    );
    const message = assistant(state);
    expect(message.parts.map((p) => p.kind)).toEqual(["text", "tool", "text"]);
    expect(answerText(message)).toBe("Found it.");
    expect(message.tools.t1).toMatchObject({ status: "ok", durationMs: 12, progress: { progress: 2, total: 4 } });
    expect(message.metadata).toMatchObject({ servers_used: ["database"] });
  });

  it("marks a failed tool call as an error and keeps its result when the stream carries one", () => {
    const state = run(
      { type: "tool_call_started", id: "t1", name: "x", server: "s", arguments: {} },
      { type: "tool_call_finished", id: "t1", name: "x", server: "s", is_error: true, duration_ms: 5, result: "boom" },
    );
    expect(assistant(state).tools.t1).toMatchObject({ status: "error", result: "boom" });
  });

  it("ignores progress for a call it never saw start", () => {
    const before = run();
    const after = chatReducer(before, {
      type: "event",
      assistantId: "a1",
      event: { type: "tool_call_progress", id: "nope", name: "x", server: null, progress: 1, total: null, message: null },
    });
    expect(assistant(after).tools).toEqual({});
  });

  it("takes the answer from the done event when no text was streamed", () => {
    expect(answerText(assistant(run(done("From the final body."))))).toBe("From the final body.");
  });

  it("flags the no-model notice", () => {
    expect(assistant(run(done("No LLM is configured.", { finish_reason: "not_configured" }))).notice).toBe("not_configured");
  });

  it("records an error event, and a failure before any event, on the answer", () => {
    const streamed = run({ type: "error", error: "llm_failed", message: "The model failed.", status: 502 });
    expect(assistant(streamed)).toMatchObject({ status: "failed", error: { code: "llm_failed" } });

    const refused = chatReducer(run(), { type: "failed", assistantId: "a1", code: "mcp_unavailable", message: "down" });
    expect(assistant(refused)).toMatchObject({ status: "failed", error: { code: "mcp_unavailable", message: "down" } });
  });

  it("does not overwrite a finished answer with a late failure", () => {
    const state = chatReducer(run(done("ok")), { type: "failed", assistantId: "a1", code: "stopped", message: "x" });
    expect(assistant(state).status).toBe("done");
  });

  it("forgets everything on reset", () => {
    expect(chatReducer(run(done("ok")), { type: "reset" })).toEqual(initialChat);
  });
});
