import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { ApiError, getHealth, streamChat } from "./api";
import { chatReducer, initialChat } from "./chatState";
import { ChatView } from "./components/ChatView";
import { ResourcesViewer } from "./components/ResourcesViewer";
import { ServersPanel } from "./components/ServersPanel";
import { StatusBanners } from "./components/StatusBanners";
import { ToolsBrowser } from "./components/ToolsBrowser";
import { loadServers } from "./servers";
import type { Health } from "./types";
import { usePoll } from "./usePoll";

export const HEALTH_INTERVAL_MS = 3000;
export const SERVERS_INTERVAL_MS = 2000;
/** While something is wrong, look again sooner, so recovery shows up quickly. */
export const TROUBLE_INTERVAL_MS = 1000;

const healthInterval = (health: Health | null, error: Error | null) =>
  error || !health || health.status === "unhealthy" ? TROUBLE_INTERVAL_MS : HEALTH_INTERVAL_MS;

type DrawerTab = "tools" | "resources";

let nextId = 0;
const newId = (prefix: string) => `${prefix}-${++nextId}`;

export function App() {
  const [chat, dispatch] = useReducer(chatReducer, initialChat);
  const [drawerOpen, setDrawerOpen] = useState(true);
  const [tab, setTab] = useState<DrawerTab>("tools");
  const health = usePoll(getHealth, healthInterval);
  const servers = usePoll(loadServers, SERVERS_INTERVAL_MS);
  const abort = useRef<AbortController | null>(null);
  const chatRef = useRef(chat);
  chatRef.current = chat;

  useEffect(() => () => abort.current?.abort(), []);

  const send = useCallback((text: string) => {
    const assistantId = newId("assistant");
    dispatch({ type: "send", text, userId: newId("user"), assistantId });
    const controller = new AbortController();
    abort.current = controller;
    streamChat(text, chatRef.current.conversationId, (event) => dispatch({ type: "event", assistantId, event }), controller.signal)
      .catch((error: unknown) => {
        if (controller.signal.aborted) {
          dispatch({ type: "failed", assistantId, code: "stopped", message: "You stopped this answer." });
          return;
        }
        const code = error instanceof ApiError ? error.code : "error";
        const message = error instanceof Error ? error.message : String(error);
        dispatch({ type: "failed", assistantId, code, message });
      })
      .finally(() => {
        if (abort.current === controller) abort.current = null;
      });
  }, []);

  const stop = useCallback(() => abort.current?.abort(), []);

  const retry = useCallback(
    (assistantId: string) => {
      const messages = chatRef.current.messages;
      const index = messages.findIndex((m) => m.id === assistantId);
      const question = messages.slice(0, index).reverse().find((m) => m.role === "user");
      if (question && question.role === "user") send(question.text);
    },
    [send],
  );

  const openTools = useCallback(() => {
    setDrawerOpen(true);
    setTab("tools");
    requestAnimationFrame(() => document.getElementById("tool-search")?.focus());
  }, []);

  const linkUp = health.data?.initialized ?? false;
  const toolsKey = `${linkUp}|${(servers.data?.servers ?? []).map((s) => `${s.name}:${s.tools}`).join(",")}`;
  const llmConfigured = health.data ? health.data.llm.configured : null;
  const serverStates = Object.fromEntries((servers.data?.servers ?? []).map((s) => [s.name, s.state]));

  return (
    <div className={`app${drawerOpen ? " app--drawer" : ""}`}>
      <a className="skip-link" href="#message-input">
        Skip to the message box
      </a>
      <header className="topbar">
        <div className="brand">
          <span className="brand__mark" aria-hidden="true" />
          <h1>Manifold</h1>
        </div>
        <div className="topbar__status">
          {health.data ? (
            <>
              <span className="pill">
                Mode <strong>{health.data.mode ?? "—"}</strong>
              </span>
              <span className={`pill pill--${linkUp ? "healthy" : "unhealthy"}`}>
                MCP {linkUp ? "connected" : "not connected"}
              </span>
              <span className={`pill${llmConfigured ? "" : " pill--degraded"}`}>
                {llmConfigured ? (
                  <>
                    LLM <strong>{health.data.llm.model ?? health.data.llm.provider}</strong>
                  </>
                ) : (
                  "No LLM"
                )}
              </span>
            </>
          ) : null}
          <button
            type="button"
            className="button button--secondary"
            aria-expanded={drawerOpen}
            aria-controls="drawer"
            onClick={() => setDrawerOpen((open) => !open)}
          >
            {drawerOpen ? "Hide tools" : "Tools & resources"}
          </button>
        </div>
      </header>
      <StatusBanners health={health.data} healthError={health.error} linkError={servers.data?.link.last_error ?? null} />
      <main className="layout">
        <ServersPanel report={servers.data} health={health.data} error={servers.error} />
        <ChatView
          chat={chat}
          onSend={send}
          onStop={stop}
          onRetry={retry}
          onNewConversation={() => dispatch({ type: "reset" })}
          onOpenTools={openTools}
          llmConfigured={llmConfigured}
        />
        {drawerOpen ? (
          <aside id="drawer" className="drawer" aria-label="Tools and resources">
            <div className="tabs" role="tablist" aria-label="Browse">
              {(["tools", "resources"] as const).map((name) => (
                <button
                  key={name}
                  type="button"
                  role="tab"
                  id={`tab-${name}`}
                  aria-selected={tab === name}
                  aria-controls={`panel-${name}`}
                  tabIndex={tab === name ? 0 : -1}
                  className="tab"
                  onClick={() => setTab(name)}
                  onKeyDown={(event) => {
                    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
                      const other = name === "tools" ? "resources" : "tools";
                      setTab(other);
                      document.getElementById(`tab-${other}`)?.focus();
                    }
                  }}
                >
                  {name === "tools" ? "Tools" : "Resources"}
                </button>
              ))}
            </div>
            <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="tabpanel">
              {tab === "tools" ? (
                <ToolsBrowser refreshKey={toolsKey} serverStates={serverStates} />
              ) : (
                <ResourcesViewer refreshKey={toolsKey} />
              )}
            </div>
          </aside>
        ) : null}
      </main>
    </div>
  );
}
