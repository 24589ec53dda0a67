import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("hands out an event only once its blank line has arrived, however the text is split", () => {
    const parser = new SseParser();
    expect(parser.push("event: text_del")).toEqual([]);
    expect(parser.push('ta\ndata: {"text":')).toEqual([]);
    expect(parser.push('"hi"}\n')).toEqual([]);
    expect(parser.push("\n")).toEqual([{ event: "text_delta", data: '{"text":"hi"}' }]);
  });

  it("reads several events from one chunk, with CRLF line ends", () => {
    const parser = new SseParser();
    const events = parser.push("event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n");
    expect(events).toEqual([
      { event: "a", data: "1" },
      { event: "b", data: "2" },
    ]);
  });

  it("waits when a chunk ends between the CR and the LF of one line end", () => {
    const parser = new SseParser();
    expect(parser.push("data: x\r")).toEqual([]);
    expect(parser.push("\n\r\n")).toEqual([{ event: "message", data: "x" }]);
  });

  it("skips keep-alive comments and joins multi-line data", () => {
    const parser = new SseParser();
    expect(parser.push(": keepalive\n\n")).toEqual([]);
    expect(parser.push("data: one\ndata: two\n\n")).toEqual([{ event: "message", data: "one\ntwo" }]);
  });

  it("does not carry an event name over to the next event", () => {
    const parser = new SseParser();
    parser.push("event: first\ndata: 1\n\n");
    expect(parser.push("data: 2\n\n")).toEqual([{ event: "message", data: "2" }]);
  });
});
