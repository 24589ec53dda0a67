interface Props {
  label: string;
  /** Progress so far; null before the tool reported any. */
  value: number | null;
  /** The total, when the tool knows it; without one the bar is indeterminate. */
  total: number | null;
  message: string | null;
}

/** A live progress bar for a running tool (indeterminate until a total is known). */
export function ProgressBar({ label, value, total, message }: Props) {
  const determinate = value !== null && total !== null && total > 0;
  const percent = determinate ? Math.min(100, Math.max(0, (value / total) * 100)) : 0;
  const text = determinate ? `${value} of ${total}` : value !== null ? `${value} done` : "Working…";
  return (
    <div className="progress">
      <div
        className={`progress__track${determinate ? "" : " progress__track--indeterminate"}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={determinate ? 0 : undefined}
        aria-valuemax={determinate ? total : undefined}
        aria-valuenow={determinate ? value : undefined}
        aria-valuetext={message ? `${text}: ${message}` : text}
      >
        <div className="progress__fill" style={determinate ? { width: `${percent}%` } : undefined} />
      </div>
      <span className="progress__text">
        {message ?? text}
        {determinate ? <span className="progress__percent">{Math.round(percent)}%</span> : null}
      </span>
    </div>
  );
}
