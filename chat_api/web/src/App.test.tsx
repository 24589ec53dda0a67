import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { HEALTH_OK, SERVERS_OK, TOOLS, json, routeFetch, sse } from "./test/http";

afterEach(() => vi.unstubAllGlobals());

const BASE_ROUTES = {
  "GET /health": () => json(HEALTH_OK),
  "GET /mcp/servers": () => json(SERVERS_OK),
  "GET /mcp/tools": () => json(TOOLS),
};

const DONE = {
  response: "Two customers.",
  tools_used: ["database__execute_query"],
  conversation_id: "c1",
  metadata: { mode: "multi", tools_called: 1, servers_used: ["database"], duration_ms: 1234, model: "test-model" },
};

async function ask(text: string) {
  await userEvent.type(screen.getByLabelText("Message"), `${text}{Enter}`);
}

describe("App", () => {
  it("streams an answer with its tool call and metadata, then continues the same conversation", async () => {
    const fetch = routeFetch({
      ...BASE_ROUTES,
      "POST /chat/stream": () =>
        sse([
          ["start", { conversation_id: "c1", mode: "multi" }],
          ["tool_call_started", { id: "t1", name: "database__execute_query", server: "database", arguments: { sql: "SELECT 1" } }],
          ["tool_call_finished", { id: "t1", name: "database__execute_query", server: "database", is_error: false, duration_ms: 9 }],
          ["text_delta", { text: "Two " }],
          ["text_delta", { text: "customers." }],
          ["done", DONE],
        ]),
    });
    const { container } = render(<App />);
    await ask("How many customers?");

    expect(await screen.findByText("Two customers.")).toHaveClass("message-response");
    const metadata = container.querySelector(".message-metadata")!;
    expect(metadata).toHaveTextContent("Mode multi");
    expect(metadata).toHaveTextContent("1 tool called");
    expect(metadata).toHaveTextContent("Server database");
    expect(metadata).toHaveTextContent("1.2 s");
    const card = screen.getByRole("article", { name: "Tool call database__execute_query: Done" });
    expect(within(card).getByText("9 ms")).toBeInTheDocument();
    // Screen readers hear the finished answer once, not every streamed piece.
    expect(screen.getByRole("status")).toHaveTextContent("Answer: Two customers.");

    await ask("And products?");
    const bodies = fetch.mock.calls
      .filter(([url]) => String(url) === "/chat/stream")
      .map(([, init]) => JSON.parse(String(init?.body)));
    expect(bodies).toEqual([{ message: "How many customers?" }, { message: "And products?", conversation_id: "c1" }]);
  });

  it("shows the mode, the MCP link and the model from /health in the top bar", async () => {
    routeFetch(BASE_ROUTES);
    const { container } = render(<App />);
    const topbar = container.querySelector(".topbar__status")!;
    expect(await within(topbar as HTMLElement).findByText("test-model")).toBeInTheDocument();
    expect(topbar).toHaveTextContent("Mode multi");
    expect(topbar).toHaveTextContent("MCP connected");
  });

  it("says plainly when no language model is configured", async () => {
    routeFetch({ ...BASE_ROUTES, "GET /health": () => json({ ...HEALTH_OK, llm: { configured: false, provider: null, model: null } }) });
    render(<App />);
    expect(await screen.findByText("No language model is configured.")).toBeInTheDocument();
    expect(screen.getByText("No LLM")).toBeInTheDocument();
  });

  it("shows the MCP link down, and a chat refused because of it as a failed request that can be retried", async () => {
    let answers = 0;
    routeFetch({
      ...BASE_ROUTES,
      "GET /health": () => json({ ...HEALTH_OK, status: "unhealthy", servers: 0, initialized: false }, 503),
      "POST /chat/stream": () => {
        answers += 1;
        return answers === 1
          ? json({ error: "mcp_unavailable", message: "The MCP server is unavailable: connection refused." }, 503)
          : sse([["done", DONE]]);
      },
    });
    render(<App />);
    expect(await screen.findByText("The MCP server is not connected.")).toBeInTheDocument();

    await ask("Anything?");
    const alert = await screen.findByText("The request failed.");
    const error = alert.closest('[role="alert"]')!;
    expect(error).toHaveTextContent("connection refused");
    expect(error).toHaveTextContent("(mcp_unavailable)");

    await userEvent.click(within(error as HTMLElement).getByRole("button", { name: "Try again" }));
    expect(await screen.findByText("Two customers.")).toBeInTheDocument();
  });

  it("reports an error that arrives during the stream", async () => {
    routeFetch({
      ...BASE_ROUTES,
      "POST /chat/stream": () =>
        sse([
          ["text_delta", { text: "Partial" }],
          ["error", { error: "llm_failed", message: "The model answered 500.", status: 502 }],
        ]),
    });
    render(<App />);
    await ask("Go");
    const failed = (await screen.findByText("The request failed.")).closest('[role="alert"]')!;
    expect(failed).toHaveTextContent("The model answered 500. (llm_failed)");
    expect(screen.getByText("Partial")).toBeInTheDocument();
  });

  it("says the answer was cut off when the stream ends without finishing", async () => {
    routeFetch({ ...BASE_ROUTES, "POST /chat/stream": () => sse([["text_delta", { text: "Half" }]]) });
    render(<App />);
    await ask("Go");
    const failed = (await screen.findByText("The request failed.")).closest('[role="alert"]')!;
    expect(failed).toHaveTextContent("The answer was cut off");
  });

  it("says when the chat service itself cannot be reached", async () => {
    vi.stubGlobal("fetch", vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))));
    render(<App />);
    expect(await screen.findByText("The chat service is not reachable.")).toBeInTheDocument();
  });

  it("hides and shows the tools drawer, whose tabs switch between tools and resources", async () => {
    routeFetch({ ...BASE_ROUTES, "GET /mcp/resources": () => json({ count: 0, resources: [] }) });
    render(<App />);
    await userEvent.click(screen.getByRole("tab", { name: "Resources" }));
    expect(await screen.findByText("0 resources")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Hide tools" }));
    expect(screen.queryByRole("tablist")).not.toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Tools & resources" })).toHaveAttribute("aria-expanded", "false");
  });
});
