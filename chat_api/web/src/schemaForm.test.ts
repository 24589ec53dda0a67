import { describe, expect, it } from "vitest";
import { buildArguments, fieldsOf, initialValues } from "./schemaForm";
import type { JsonSchema } from "./types";

const SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    limit: { type: "integer", title: "Limit", default: 100, minimum: 1, maximum: 1000 },
    sql: { type: "string", description: "One statement." },
    verbose: { type: "boolean", default: false },
    state: { enum: ["open", "closed"], default: "open" },
    repo: { anyOf: [{ type: "string" }, { type: "null" }], default: null, title: "Repository" },
    filters: { type: "object" },
  },
  required: ["sql"],
};

describe("fieldsOf", () => {
  it("puts required fields first and picks an input kind per type", () => {
    const fields = fieldsOf(SCHEMA);
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ["sql", "text", true],
      ["limit", "integer", false],
      ["verbose", "boolean", false],
      ["state", "enum", false],
      ["repo", "string", false],
      ["filters", "json", false],
    ]);
  });

  it("uses a title only when it says more than the name", () => {
    const byName = Object.fromEntries(fieldsOf(SCHEMA).map((f) => [f.name, f.label]));
    expect(byName.limit).toBe("limit");
    expect(byName.repo).toBe("Repository");
  });

  it("copes with a tool that has no schema properties", () => {
    expect(fieldsOf({ type: "object" })).toEqual([]);
    expect(fieldsOf(undefined)).toEqual([]);
  });
});

describe("buildArguments", () => {
  const fields = fieldsOf(SCHEMA);

  it("starts from the defaults and types every value", () => {
    const values = { ...initialValues(fields), sql: "SELECT 1", verbose: true, filters: '{"a": 1}' };
    expect(buildArguments(fields, values)).toEqual({
      ok: true,
      arguments: { sql: "SELECT 1", limit: 100, verbose: true, state: "open", filters: { a: 1 } },
    });
  });

  it("leaves out empty optional fields and untouched optional checkboxes", () => {
    const values = { ...initialValues(fields), sql: "SELECT 1", limit: "", state: "" };
    expect(buildArguments(fields, values)).toEqual({ ok: true, arguments: { sql: "SELECT 1" } });
  });

  it("says what is wrong with each field", () => {
    const values = { ...initialValues(fields), sql: " ", limit: "2.5", filters: "{nope" };
    expect(buildArguments(fields, values)).toEqual({
      ok: false,
      errors: { sql: "Required.", limit: "Enter a whole number.", filters: "Enter valid JSON." },
    });
    expect(buildArguments(fields, { ...values, sql: "x", limit: "0", filters: "" })).toEqual({
      ok: false,
      errors: { limit: "At least 1." },
    });
  });
});
