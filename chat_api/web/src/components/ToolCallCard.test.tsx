import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { ToolCallView } from "../chatState";
import { ToolCallCard } from "./ToolCallCard";

const BASE: ToolCallView = {
  id: "t1",
  name: "jobs__long_job",
  server: "jobs",
  arguments: { steps: 4, note: "line one\nline two" },
  status: "running",
  progress: null,
  durationMs: null,
  result: null,
  content: null,
  structured: null,
};

describe("ToolCallCard", () => {
  it("shows the tool, its server and an indeterminate bar before any progress", () => {
    render(<ToolCallCard tool={BASE} interrupted={false} />);
    const card = screen.getByRole("article", { name: "Tool call jobs__long_job: Running" });
    expect(within(card).getByText("jobs")).toBeInTheDocument();
    const bar = within(card).getByRole("progressbar", { name: "Progress of jobs__long_job" });
    expect(bar).not.toHaveAttribute("aria-valuenow");
  });

  it("moves the bar as progress arrives", () => {
    const { rerender } = render(
      <ToolCallCard tool={{ ...BASE, progress: { progress: 1, total: 4, message: null } }} interrupted={false} />,
    );
    const bar = screen.getByRole("progressbar");
    expect(bar).toHaveAttribute("aria-valuenow", "1");
    expect(bar).toHaveAttribute("aria-valuemax", "4");
    expect(screen.getByText("25%")).toBeInTheDocument();
    rerender(<ToolCallCard tool={{ ...BASE, progress: { progress: 3, total: 4, message: "step 3" } }} interrupted={false} />);
    expect(bar).toHaveAttribute("aria-valuenow", "3");
    expect(bar).toHaveAttribute("aria-valuetext", "3 of 4: step 3");
    expect(screen.getByText("75%")).toBeInTheDocument();
  });

  it("shows the arguments one per row, strings as written", async () => {
    render(<ToolCallCard tool={BASE} interrupted={false} />);
    await userEvent.click(screen.getByText("Arguments"));
    expect(screen.getByText("steps").nextSibling).toHaveTextContent("4");
    expect(screen.getByText(/line one/).textContent).toBe("line one\nline two");
  });

  it("highlights a failed call and opens its error", () => {
    render(
      <ToolCallCard tool={{ ...BASE, status: "error", durationMs: 1500, result: "ERROR: no such table" }} interrupted={false} />,
    );
    const card = screen.getByRole("article", { name: "Tool call jobs__long_job: Failed" });
    expect(card).toHaveClass("tool-card--error");
    expect(within(card).getByText("1.5 s")).toBeInTheDocument();
    expect(within(card).getByText("ERROR: no such table")).toBeVisible();
    expect(within(card).queryByRole("progressbar")).not.toBeInTheDocument();
  });

  it("says a failed call failed even when the stream carries no result", () => {
    render(<ToolCallCard tool={{ ...BASE, status: "error", durationMs: 3 }} interrupted={false} />);
    expect(screen.getByText(/reported an error/)).toBeInTheDocument();
  });

  it("calls a call that never finished interrupted once the answer ended", () => {
    render(<ToolCallCard tool={BASE} interrupted />);
    expect(screen.getByRole("article", { name: "Tool call jobs__long_job: Interrupted" })).toBeInTheDocument();
    expect(screen.queryByRole("progressbar")).not.toBeInTheDocument();
  });
});
