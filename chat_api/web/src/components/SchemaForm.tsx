import { type FormEvent, useEffect, useMemo, useState } from "react";
import { type Field, type FormValues, buildArguments, fieldsOf, initialValues } from "../schemaForm";
import type { JsonSchema } from "../types";

interface Props {
  /** Used to make the inputs' ids unique. */
  formId: string;
  schema: JsonSchema;
  running: boolean;
  onRun: (args: Record<string, unknown>) => void;
}

function Input({
  id,
  field,
  value,
  invalid,
  describedBy,
  onChange,
}: {
  id: string;
  field: Field;
  value: string | boolean;
  invalid: boolean;
  describedBy: string | undefined;
  onChange: (value: string | boolean) => void;
}) {
  const common = {
    id,
    name: field.name,
    "aria-invalid": invalid || undefined,
    "aria-describedby": describedBy,
    "aria-required": field.required || undefined,
  };
  switch (field.kind) {
    case "boolean":
      return <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
    case "enum":
      return (
        <select {...common} value={String(value)} onChange={(e) => onChange(e.target.value)}>
          {field.required ? null : <option value="">(default)</option>}
          {field.options.map((option) => (
            <option key={String(option)} value={String(option)}>
              {String(option)}
            </option>
          ))}
        </select>
      );
    case "integer":
    case "number":
      return (
        <input
          {...common}
          type="number"
          step={field.kind === "integer" ? 1 : "any"}
          min={field.schema.minimum}
          max={field.schema.maximum}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    case "text":
    case "json":
      return (
        <textarea
          {...common}
          rows={field.kind === "json" ? 4 : 3}
          spellCheck={false}
          className={field.kind === "json" ? "mono" : undefined}
          placeholder={field.kind === "json" ? "JSON" : undefined}
          value={String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    default:
      return <input {...common} type="text" value={String(value)} onChange={(e) => onChange(e.target.value)} />;
  }
}

/** A form generated from a tool's input schema; submitting runs the tool with the typed arguments. */
export function SchemaForm({ formId, schema, running, onRun }: Props) {
  const fields = useMemo(() => fieldsOf(schema), [schema]);
  const [values, setValues] = useState<FormValues>(() => initialValues(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});

  useEffect(() => {
    setValues(initialValues(fields));
    setErrors({});
  }, [fields]);

  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const built = buildArguments(fields, values);
    if (!built.ok) {
      setErrors(built.errors);
      const first = fields.find((f) => built.errors[f.name]);
      if (first) document.getElementById(`${formId}-${first.name}`)?.focus();
      return;
    }
    setErrors({});
    onRun(built.arguments);
  };

  return (
    <form className="schema-form" onSubmit={submit} noValidate aria-label="Tool arguments">
      {fields.length === 0 ? <p className="muted">This tool takes no arguments.</p> : null}
      {fields.map((field) => {
        const id = `${formId}-${field.name}`;
        const help = field.description ? `${id}-help` : undefined;
        const error = errors[field.name];
        const errorId = error ? `${id}-error` : undefined;
        const describedBy = [help, errorId].filter(Boolean).join(" ") || undefined;
        return (
          <div key={field.name} className={`form-field form-field--${field.kind}${error ? " form-field--invalid" : ""}`}>
            <label htmlFor={id}>
              {field.label}
              {field.required ? (
                <span className="required" aria-hidden="true">
                  {" "}
                  *
                </span>
              ) : null}
              <span className="field-type">{field.kind === "text" ? "string" : field.kind}</span>
            </label>
            <Input
              id={id}
              field={field}
              value={values[field.name] ?? ""}
              invalid={Boolean(error)}
              describedBy={describedBy}
              onChange={(value) => setValues((old) => ({ ...old, [field.name]: value }))}
            />
            {field.description ? (
              <p id={help} className="form-help">
                {field.description}
              </p>
            ) : null}
            {error ? (
              <p id={errorId} className="form-error">
                {error}
              </p>
            ) : null}
          </div>
        );
      })}
      <div className="form-actions">
        <button type="submit" className="button button--primary" disabled={running}>
          {running ? "Running…" : "Run tool"}
        </button>
      </div>
    </form>
  );
}
