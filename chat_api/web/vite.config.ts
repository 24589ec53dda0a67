/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The config runs in Node; this is the one Node global it reads (no @types/node needed).
declare const process: { env: Record<string, string | undefined> };

// `npm run dev` serves the UI on :5173 and forwards API calls to the chat service on :8001
// (CHAT_API_URL overrides it). The production build goes to dist/, which chat_api serves at /.
const chatApi = process.env.CHAT_API_URL ?? "http://127.0.0.1:8001";
const apiPaths = ["/chat", "/mcp", "/health", "/metrics"];

export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", assetsDir: "assets", emptyOutDir: true },
  server: {
    host: "127.0.0.1",
    proxy: Object.fromEntries(apiPaths.map((path) => [path, { target: chatApi, changeOrigin: false }])),
  },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/setupTests.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
