// Turning a tool's JSON Schema into form fields, and the filled form back into arguments.

import type { JsonSchema } from "./types";

export type FieldKind = "string" | "text" | "number" | "integer" | "boolean" | "enum" | "json";

export interface Field {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  description: string;
  options: unknown[];
  schema: JsonSchema;
}

export type FormValues = Record<string, string | boolean>;

const LONG_TEXT = /sql|query|content|body|text|code|script|prompt/i;

/** The schema's non-null alternative, for `anyOf: [{type: X}, {type: "null"}]` (an optional X). */
function unwrapNullable(schema: JsonSchema): JsonSchema {
  const choices = schema.anyOf ?? schema.oneOf;
  if (!choices) return schema;
  const real = choices.filter((choice) => choice.type !== "null");
  if (real.length !== 1) return schema;
  const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = schema;
  return { ...real[0], ...rest };
}

function typeOf(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null");
  return schema.type;
}

function kindOf(name: string, schema: JsonSchema): FieldKind {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return "enum";
  switch (typeOf(schema)) {
    case "string":
      return LONG_TEXT.test(name) || schema.format === "textarea" ? "text" : "string";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    default:
      return "json";
  }
}

/** One field per property, required ones first (each group in the schema's order). */
export function fieldsOf(schema: JsonSchema | undefined): Field[] {
  const properties = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  const fields = Object.entries(properties).map(([name, raw]): Field => {
    const property = unwrapNullable(raw);
    return {
      name,
      label: property.title && property.title.toLowerCase() !== name.toLowerCase() ? property.title : name,
      kind: kindOf(name, property),
      required: required.has(name),
      description: property.description ?? "",
      options: property.enum ?? [],
      schema: property,
    };
  });
  return [...fields.filter((f) => f.required), ...fields.filter((f) => !f.required)];
}

/** The form's starting values: each property's default, or empty. */
export function initialValues(fields: Field[]): FormValues {
  const values: FormValues = {};
  for (const field of fields) {
    const fallback = field.schema.default;
    if (field.kind === "boolean") values[field.name] = fallback === true;
    else if (fallback === undefined || fallback === null) values[field.name] = "";
    else if (field.kind === "json") values[field.name] = JSON.stringify(fallback, null, 2);
    else values[field.name] = String(fallback);
  }
  return values;
}

export type BuildResult =
  | { ok: true; arguments: Record<string, unknown> }
  | { ok: false; errors: Record<string, string> };

function convert(field: Field, raw: string | boolean): { value?: unknown; error?: string } {
  if (field.kind === "boolean") return { value: raw === true };
  const text = String(raw);
  if (text.trim() === "") return field.required ? { error: "Required." } : {};
  switch (field.kind) {
    case "integer":
    case "number": {
      const value = Number(text);
      if (!Number.isFinite(value)) return { error: "Enter a number." };
      if (field.kind === "integer" && !Number.isInteger(value)) return { error: "Enter a whole number." };
      if (field.schema.minimum !== undefined && value < field.schema.minimum)
        return { error: `At least ${field.schema.minimum}.` };
      if (field.schema.maximum !== undefined && value > field.schema.maximum)
        return { error: `At most ${field.schema.maximum}.` };
      return { value };
    }
    case "enum": {
      const match = field.options.find((option) => String(option) === text);
      return match === undefined ? { error: "Choose one of the options." } : { value: match };
    }
    case "json":
      try {
        return { value: JSON.parse(text) as unknown };
      } catch {
        return { error: "Enter valid JSON." };
      }
    default:
      return { value: text };
  }
}

/** The tool's arguments from the form, or a message per field that needs fixing. Empty optional fields are left out. */
export function buildArguments(fields: Field[], values: FormValues): BuildResult {
  const args: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const { value, error } = convert(field, values[field.name] ?? "");
    if (error) errors[field.name] = error;
    else if (value !== undefined) {
      // An untouched optional checkbox keeps the tool's own default.
      if (field.kind === "boolean" && !field.required && value === (field.schema.default === true)) continue;
      args[field.name] = value;
    }
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, arguments: args };
}
