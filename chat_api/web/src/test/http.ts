// Fake responses for the component tests: JSON, server-sent event streams, and a routing fetch.

import { vi } from "vitest";

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** A text/event-stream response whose events arrive in separate chunks (one event split in two). */
export function sse(events: [string, unknown][], { end = true }: { end?: boolean } = {}): Response {
  const encoder = new TextEncoder();
  const chunks = events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) {
        const half = Math.floor(chunk.length / 2);
        controller.enqueue(encoder.encode(chunk.slice(0, half)));
        controller.enqueue(encoder.encode(chunk.slice(half)));
      }
      if (end) controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

type Handler = (init: RequestInit | undefined) => Response | Promise<Response>;

/** Replace fetch with one that answers by "METHOD /path"; anything else is a 404. Returns the mock. */
export function routeFetch(routes: Record<string, Handler>) {
  const mock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const path = new URL(url, "http://ui.test").pathname;
    const key = `${init?.method ?? "GET"} ${path}`;
    const handler = routes[key];
    return handler ? handler(init) : json({ detail: "Not Found" }, 404);
  });
  vi.stubGlobal("fetch", mock);
  return mock;
}

export const HEALTH_OK = {
  status: "healthy",
  mode: "multi",
  servers: 2,
  initialized: true,
  llm: { configured: true, provider: "openai", model: "test-model" },
};

export const SERVERS_OK = {
  mode: "multi",
  status: "healthy",
  source: "proxy",
  link: { state: "ready", target: "http: http://127.0.0.1:8000/mcp", last_error: null },
  servers: [
    { name: "database", state: "ready", transport: "stdio", tools: 1, last_error: null },
    { name: "github", state: "ready", transport: "http", tools: 1, last_error: null },
  ],
};

export const TOOLS = {
  count: 2,
  mode: "multi",
  tools: [
    {
      name: "database__execute_query",
      server: "database",
      original_name: "execute_query",
      description: "Run one read-only SQL statement.",
      input_schema: {
        type: "object",
        properties: {
          sql: { type: "string", description: "The statement." },
          limit: { type: "integer", default: 100, minimum: 1, maximum: 1000 },
        },
        required: ["sql"],
      },
    },
    {
      name: "github__list_issues",
      server: "github",
      original_name: "list_issues",
      description: "List the issues of a repository.",
      input_schema: {
        type: "object",
        properties: {
          repo: { type: "string" },
          state: { enum: ["open", "closed", "all"], default: "open" },
        },
        required: ["repo"],
      },
    },
  ],
};
