import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { TOOLS, json, routeFetch } from "../test/http";
import { ToolsBrowser } from "./ToolsBrowser";

afterEach(() => vi.unstubAllGlobals());

describe("ToolsBrowser", () => {
  it("lists the tools and narrows them with the search box", async () => {
    routeFetch({ "GET /mcp/tools": () => json(TOOLS) });
    render(<ToolsBrowser refreshKey="k" />);
    const list = screen.getByRole("list", { name: "Tools" });
    expect(await within(list).findAllByRole("button")).toHaveLength(2);
    await userEvent.type(screen.getByLabelText("Search tools"), "github issues");
    expect(within(list).getAllByRole("button")).toHaveLength(1);
    expect(screen.getByText("1 of 2 tools")).toBeInTheDocument();
  });

  it("marks the tools of a server that is down", async () => {
    routeFetch({ "GET /mcp/tools": () => json(TOOLS) });
    render(<ToolsBrowser refreshKey="k" serverStates={{ github: "down", database: "ready" }} />);
    expect(await screen.findByText("github · down")).toBeInTheDocument();
    expect(screen.getByText("database")).toBeInTheDocument();
  });

  it("runs a tool from its generated form and shows the result", async () => {
    const fetch = routeFetch({
      "GET /mcp/tools": () => json(TOOLS),
      "POST /mcp/tools/database__execute_query/call": () =>
        json({
          tool: "database__execute_query",
          server: "database",
          is_error: false,
          text: "x | y",
          content: [{ type: "text", text: "x | y" }],
          structured_content: { rows: [[1, 2]] },
          duration_ms: 7,
        }),
    });
    render(<ToolsBrowser refreshKey="k" />);
    await userEvent.click(await screen.findByRole("button", { name: /execute_query/ }));
    expect(screen.getByRole("heading", { name: "execute_query" })).toHaveFocus();
    await userEvent.type(screen.getByLabelText(/^sql/), "SELECT 1");
    await userEvent.click(screen.getByRole("button", { name: "Run tool" }));

    const result = await screen.findByRole("region", { name: "Result of execute_query" });
    expect(within(result).getByText("x | y")).toBeInTheDocument();
    expect(within(result).getByText("7 ms")).toBeInTheDocument();
    const call = fetch.mock.calls.find(([url]) => String(url).endsWith("/call"));
    expect(JSON.parse(String(call?.[1]?.body))).toEqual({ arguments: { sql: "SELECT 1", limit: 100 } });
  });

  it("shows a failed call's message", async () => {
    routeFetch({
      "GET /mcp/tools": () => json(TOOLS),
      "POST /mcp/tools/github__list_issues/call": () =>
        json({ error: "mcp_unavailable", message: "The MCP server is unavailable." }, 503),
    });
    render(<ToolsBrowser refreshKey="k" />);
    await userEvent.click(await screen.findByRole("button", { name: /list_issues/ }));
    await userEvent.type(screen.getByLabelText(/^repo/), "acme/x");
    await userEvent.click(screen.getByRole("button", { name: "Run tool" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("The MCP server is unavailable. (mcp_unavailable)");
  });

  it("says when the tools cannot be listed", async () => {
    routeFetch({ "GET /mcp/tools": () => json({ error: "mcp_unavailable", message: "Not connected." }, 503) });
    render(<ToolsBrowser refreshKey="k" />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Tools unavailable: Not connected.");
  });
});
