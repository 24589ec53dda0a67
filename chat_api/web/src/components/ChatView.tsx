import { useEffect, useRef } from "react";
import { type AssistantMessage, type ChatState, answerText, isBusy } from "../chatState";
import { formatDuration, plural } from "../format";
import type { ChatMetadata } from "../types";
import { MessageInput } from "./MessageInput";
import { ToolCallCard } from "./ToolCallCard";

interface Props {
  chat: ChatState;
  onSend: (text: string) => void;
  onStop: () => void;
  onRetry: (assistantId: string) => void;
  onNewConversation: () => void;
  onOpenTools: () => void;
  llmConfigured: boolean | null;
}

export function MetadataLine({ metadata }: { metadata: ChatMetadata }) {
  const servers = metadata.servers_used;
  return (
    <p className="message-metadata">
      <span>
        Mode <strong>{metadata.mode ?? "unknown"}</strong>
      </span>
      <span>{plural(metadata.tools_called, "tool")} called</span>
      <span>
        {servers.length === 0 ? (
          "No servers used"
        ) : (
          <>
            {servers.length === 1 ? "Server" : "Servers"} <strong>{servers.join(", ")}</strong>
          </>
        )}
      </span>
      <span>{formatDuration(metadata.duration_ms)}</span>
      {metadata.model ? <span>{metadata.model}</span> : null}
    </p>
  );
}

function Assistant({
  message,
  onRetry,
  onOpenTools,
}: {
  message: AssistantMessage;
  onRetry: (id: string) => void;
  onOpenTools: () => void;
}) {
  const streaming = message.status === "streaming";
  // Text the model wrote before a tool call is narration, shown in place; the text after the
  // last call is the answer.
  const lastTool = message.parts.map((part) => part.kind).lastIndexOf("tool");
  const answer = answerText(message).trim();
  return (
    <div className="message message--assistant" aria-busy={streaming}>
      <div className="message__who" aria-hidden="true">
        M
      </div>
      <div className="message__body">
        {message.parts.slice(0, lastTool + 1).map((part, index) => {
          if (part.kind === "text") {
            return part.text.trim() ? (
              <p key={`text-${index}`} className="message-note">
                {part.text.trim()}
              </p>
            ) : null;
          }
          const tool = message.tools[part.id];
          return tool ? <ToolCallCard key={part.id} tool={tool} interrupted={!streaming} /> : null;
        })}
        {answer ? (
          <div className={`message-response${message.notice ? " message-response--notice" : ""}`}>{answer}</div>
        ) : null}
        {streaming && !answer ? (
          <p className="typing" aria-label="The assistant is working">
            <span />
            <span />
            <span />
          </p>
        ) : null}
        {message.notice === "not_configured" ? (
          <p className="notice-hint">
            Tools still work without a model:{" "}
            <button type="button" className="link-button" onClick={onOpenTools}>
              open the tools browser
            </button>
            .
          </p>
        ) : null}
        {message.error ? (
          <div className="message-error" role="alert">
            <strong>The request failed.</strong> {message.error.message}{" "}
            <span className="muted">({message.error.code})</span>
            <div>
              <button type="button" className="button button--small" onClick={() => onRetry(message.id)}>
                Try again
              </button>
            </div>
          </div>
        ) : null}
        {message.metadata ? <MetadataLine metadata={message.metadata} /> : null}
      </div>
    </div>
  );
}

/** What a screen reader hears about the latest answer (the log itself stays quiet while text streams in). */
export function announcement(chat: ChatState): string {
  const last = chat.messages[chat.messages.length - 1];
  if (!last || last.role !== "assistant") return "";
  if (last.status === "streaming") return "The assistant is working.";
  if (last.status === "failed") return `The request failed: ${last.error?.message ?? ""}`;
  return `Answer: ${answerText(last).trim()}`;
}

/** The conversation and its input. */
export function ChatView({ chat, onSend, onStop, onRetry, onNewConversation, onOpenTools, llmConfigured }: Props) {
  const logRef = useRef<HTMLDivElement>(null);
  const busy = isBusy(chat);

  useEffect(() => {
    const log = logRef.current;
    if (log) log.scrollTop = log.scrollHeight;
  }, [chat]);

  return (
    <section className="chat-interface" aria-labelledby="chat-title">
      <div className="chat-interface__bar">
        <h2 id="chat-title">Chat</h2>
        <button type="button" className="button button--ghost" onClick={onNewConversation} disabled={busy || chat.messages.length === 0}>
          New conversation
        </button>
      </div>
      <p className="visually-hidden" role="status" aria-live="polite">
        {announcement(chat)}
      </p>
      <div className="chat-log" ref={logRef} role="log" aria-live="off" tabIndex={0} aria-label="Conversation">
        {chat.messages.length === 0 ? (
          <div className="chat-empty">
            <h3>Ask across every connected server</h3>
            <p>
              The assistant picks tools from all the servers on the left and shows each call as it runs.
              {llmConfigured === false ? " No language model is configured, so answers are limited; the tools browser runs tools directly." : ""}
            </p>
          </div>
        ) : (
          chat.messages.map((message) =>
            message.role === "user" ? (
              <div key={message.id} className="message message--user">
                <div className="message__body">
                  <div className="message-user">{message.text}</div>
                </div>
              </div>
            ) : (
              <Assistant key={message.id} message={message} onRetry={onRetry} onOpenTools={onOpenTools} />
            ),
          )
        )}
      </div>
      <MessageInput busy={busy} onSend={onSend} onStop={onStop} />
    </section>
  );
}
