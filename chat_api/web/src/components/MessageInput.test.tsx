import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { MessageInput } from "./MessageInput";

describe("MessageInput", () => {
  it("sends on Enter and empties the box", async () => {
    const onSend = vi.fn();
    render(<MessageInput busy={false} onSend={onSend} onStop={vi.fn()} />);
    const box = screen.getByLabelText("Message");
    await userEvent.type(box, "  hello  {Enter}");
    expect(onSend).toHaveBeenCalledWith("hello");
    expect(box).toHaveValue("");
  });

  it("starts a new line on Shift+Enter", async () => {
    const onSend = vi.fn();
    render(<MessageInput busy={false} onSend={onSend} onStop={vi.fn()} />);
    const box = screen.getByLabelText("Message");
    await userEvent.type(box, "one{Shift>}{Enter}{/Shift}two");
    expect(box).toHaveValue("one\ntwo");
    expect(onSend).not.toHaveBeenCalled();
  });

  it("sends nothing when the box is blank, and the button says so", async () => {
    const onSend = vi.fn();
    render(<MessageInput busy={false} onSend={onSend} onStop={vi.fn()} />);
    await userEvent.type(screen.getByLabelText("Message"), "   {Enter}");
    expect(onSend).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Send" })).toBeDisabled();
  });

  it("offers Stop instead of Send while an answer streams, and does not send meanwhile", async () => {
    const onSend = vi.fn();
    const onStop = vi.fn();
    render(<MessageInput busy onSend={onSend} onStop={onStop} />);
    await userEvent.type(screen.getByLabelText("Message"), "next{Enter}");
    expect(onSend).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Stop" }));
    expect(onStop).toHaveBeenCalled();
  });
});
