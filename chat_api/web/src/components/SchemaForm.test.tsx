import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { SchemaForm } from "./SchemaForm";

const SCHEMA = {
  type: "object",
  properties: {
    repo: { type: "string", description: "owner/name" },
    state: { enum: ["open", "closed", "all"], default: "open" },
    limit: { type: "integer", default: 10 },
    draft: { type: "boolean" },
  },
  required: ["repo"],
};

describe("SchemaForm", () => {
  it("labels every field and describes it", () => {
    render(<SchemaForm formId="f" schema={SCHEMA} running={false} onRun={vi.fn()} />);
    expect(screen.getByLabelText(/^repo/)).toHaveAccessibleDescription("owner/name");
    expect(screen.getByLabelText(/^state/)).toHaveValue("open");
    expect(screen.getByLabelText(/^limit/)).toHaveValue(10);
    expect(screen.getByLabelText(/^draft/)).not.toBeChecked();
  });

  it("runs the tool with typed arguments", async () => {
    const onRun = vi.fn();
    render(<SchemaForm formId="f" schema={SCHEMA} running={false} onRun={onRun} />);
    await userEvent.type(screen.getByLabelText(/^repo/), "acme/shop");
    await userEvent.selectOptions(screen.getByLabelText(/^state/), "all");
    await userEvent.click(screen.getByLabelText(/^draft/));
    await userEvent.click(screen.getByRole("button", { name: "Run tool" }));
    expect(onRun).toHaveBeenCalledWith({ repo: "acme/shop", state: "all", limit: 10, draft: true });
  });

  it("refuses to run with a missing required field, and puts focus on it", async () => {
    const onRun = vi.fn();
    render(<SchemaForm formId="f" schema={SCHEMA} running={false} onRun={onRun} />);
    await userEvent.click(screen.getByRole("button", { name: "Run tool" }));
    expect(onRun).not.toHaveBeenCalled();
    const repo = screen.getByLabelText(/^repo/);
    expect(repo).toHaveFocus();
    expect(repo).toHaveAttribute("aria-invalid", "true");
    expect(repo).toHaveAccessibleDescription("owner/name Required.");
  });

  it("says so for a tool without arguments, and disables Run while running", () => {
    render(<SchemaForm formId="f" schema={{ type: "object" }} running onRun={vi.fn()} />);
    expect(screen.getByText("This tool takes no arguments.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Running…" })).toBeDisabled();
  });
});
