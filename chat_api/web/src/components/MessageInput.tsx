import { type FormEvent, type KeyboardEvent, useState } from "react";

interface Props {
  busy: boolean;
  onSend: (text: string) => void;
  onStop: () => void;
  placeholder?: string;
}

/** The message box: Enter sends, Shift+Enter starts a new line. */
export function MessageInput({ busy, onSend, onStop, placeholder }: Props) {
  const [text, setText] = useState("");

  const submit = () => {
    const message = text.trim();
    if (!message || busy) return;
    onSend(message);
    setText("");
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      submit();
    }
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    submit();
  };

  return (
    <form className="composer" onSubmit={onSubmit}>
      <label htmlFor="message-input" className="visually-hidden">
        Message
      </label>
      <textarea
        id="message-input"
        className="message-input"
        value={text}
        rows={2}
        placeholder={placeholder ?? "Ask something that needs the tools…"}
        aria-describedby="message-hint"
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="composer__side">
        {busy ? (
          <button type="button" className="button button--secondary" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button type="submit" className="button button--primary" disabled={!text.trim()}>
            Send
          </button>
        )}
        <span id="message-hint" className="composer__hint">
          Enter sends · Shift+Enter new line
        </span>
      </div>
    </form>
  );
}
