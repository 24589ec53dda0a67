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

  it("offers a Sign in link, in a new tab, for a server that waits for a sign-in", () => {
    const url = "http://127.0.0.1:8000/oauth/sign-in/tracker?ticket=abc.def";
    const report: ServersReport = {
      ...REPORT,
      servers: [
        ...REPORT.servers,
        {
          name: "tracker",
          state: "login_required",
          transport: "http",
          tools: 0,
          last_error: "needs sign-in (not signed in): run `mcp-proxy login tracker`",
          sign_in: "mcp-proxy login tracker",
          sign_in_url: url,
        },
      ],
    };
    render(<ServersPanel report={report} health={null} error={null} />);
    const tracker = screen.getByText("tracker").closest("li")!;
    expect(tracker).toHaveAttribute("data-state", "login_required");
    expect(within(tracker).getByText("Sign-in needed")).toBeInTheDocument();
    const link = within(tracker).getByRole("link", { name: "Sign in to tracker" });
    expect(link).toHaveAttribute("href", url);
    expect(link).toHaveAttribute("target", "_blank");
    expect(link).toHaveAttribute("rel", expect.stringContaining("noopener"));
    const database = screen.getByText("database").closest("li")!;
    expect(within(database).queryByRole("link")).not.toBeInTheDocument();
  });

  it("gives the command when the proxy has no sign-in page (a proxy launched over stdio)", () => {
    const report: ServersReport = {
      ...REPORT,
      servers: [
        {
          name: "tracker",
          state: "login_required",
          transport: "http",
          tools: 0,
          last_error: null,
          sign_in: "mcp-proxy login tracker",
          sign_in_url: null,
        },
      ],
    };
    render(<ServersPanel report={report} health={null} error={null} />);
    const tracker = screen.getByText("tracker").closest("li")!;
    expect(within(tracker).queryByRole("link")).not.toBeInTheDocument();
    expect(within(tracker).getByText("mcp-proxy login tracker")).toBeInTheDocument();
  });

  it("shows the server connected once its sign-in is done", () => {
    const waiting: ServersReport = {
      ...REPORT,
      servers: [{ name: "tracker", state: "login_required", transport: "http", tools: 0, last_error: null, sign_in_url: "http://127.0.0.1:8000/oauth/sign-in/tracker?ticket=t" }],
    };
    const { rerender } = render(<ServersPanel report={waiting} health={null} error={null} />);
    expect(screen.getByRole("link", { name: "Sign in to tracker" })).toBeInTheDocument();
    rerender(
      <ServersPanel
        report={{ ...waiting, servers: [{ name: "tracker", state: "ready", transport: "http", tools: 1, last_error: null }] }}
        health={null}
        error={null}
      />,
    );
    const tracker = screen.getByText("tracker").closest("li")!;
    expect(tracker).toHaveAttribute("data-state", "ready");
    expect(within(tracker).queryByRole("link")).not.toBeInTheDocument();
  });

  it("says which tools changed their pinned definition, which are held, and what the scan flagged", () => {
    const report: ServersReport = {
      ...REPORT,
      servers: [
        {
          name: "shifty",
          state: "ready",
          transport: "stdio",
          tools: 2,
          last_error: null,
          changed_tools: ["shifty__lookup"],
          held_tools: ["shifty__extra"],
          flagged: ["tool shifty__odd: invisible characters"],
        },
        REPORT.servers[0],
      ],
    };
    render(<ServersPanel report={report} health={null} error={null} />);
    const findings = screen.getByRole("note", { name: "Trust findings for shifty" });
    expect(findings).toHaveTextContent("Definition changed, calls refused: shifty__lookup");
    expect(findings).toHaveTextContent("mcp-proxy tools approve");
    expect(findings).toHaveTextContent("New tools held until approved: shifty__extra");
    expect(findings).toHaveTextContent("Flagged descriptions: tool shifty__odd: invisible characters");
    const database = screen.getByText("database").closest("li")!;
    expect(within(database).queryByRole("note")).not.toBeInTheDocument();
  });
});
