import { render, screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { ServersReport } from "../types";
import { ServersPanel } from "./ServersPanel";

const REPORT: ServersReport = {
  mode: "multi",
  status: "degraded",
  source: "proxy",
  link: { state: "ready", target: "http: http://127.0.0.1:8000/mcp", last_error: null },
  servers: [
    { name: "database", state: "ready", transport: "stdio", tools: 3, last_error: null },
    { name: "github", state: "down", transport: "http", tools: 3, last_error: "connection refused", retry_in_s: 4.2 },
    { name: "files", state: "degraded", transport: "sse", tools: 2, last_error: "slow health check" },
  ],
};

describe("ServersPanel", () => {
  it("shows every server's state, transport, tool count and last error", () => {
    render(<ServersPanel report={REPORT} health={null} error={null} />);
    const github = within(screen.getByRole("list", { name: "Servers" })).getByText("github").closest("li")!;
    expect(github).toHaveAttribute("data-state", "down");
    expect(within(github).getByText("Down")).toBeInTheDocument();
    expect(within(github).getByText("http")).toBeInTheDocument();
    expect(within(github).getByText(/connection refused/)).toBeInTheDocument();
    expect(within(github).getByText(/retry in 5 s/)).toBeInTheDocument();
    const database = screen.getByText("database").closest("li")!;
    expect(within(database).getByText("Ready")).toBeInTheDocument();
    expect(within(database).queryByText(/Last error/)).not.toBeInTheDocument();
  });

  it("shows the overall mode and health, and how many servers are up", () => {
    render(<ServersPanel report={REPORT} health={null} error={null} />);
    expect(screen.getByTestId("mode")).toHaveTextContent("multi");
    expect(screen.getByTestId("health")).toHaveTextContent("Degraded");
    expect(screen.getByText("2/3 up")).toBeInTheDocument();
  });

  it("says when the status cannot be had", () => {
    render(<ServersPanel report={null} health={null} error={new Error("The chat service cannot be reached.")} />);
    expect(screen.getByRole("status")).toHaveTextContent("Server status unavailable: The chat service cannot be reached.");
  });
});
