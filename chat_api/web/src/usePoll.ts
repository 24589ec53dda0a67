import { useCallback, useEffect, useRef, useState } from "react";

export interface Polled<T> {
  data: T | null;
  error: Error | null;
  /** Fetch now (and restart the interval). */
  refresh: () => void;
}

/** Milliseconds until the next call, given what the last one brought. */
export type Interval<T> = number | ((data: T | null, error: Error | null) => number);

/**
 * Calls `load` now and again after each answer. The last good data is kept while a later call
 * fails, so a panel can show what it knew next to the error. `interval` may depend on the last
 * answer: poll faster while something is wrong, so recovery shows up quickly.
 */
export function usePoll<T>(load: () => Promise<T>, interval: Interval<T>): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  const intervalRef = useRef(interval);
  loadRef.current = load;
  intervalRef.current = interval;

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last: T | null = null;
    const run = async () => {
      let failure: Error | null = null;
      try {
        last = await loadRef.current();
        if (cancelled) return;
        setData(last);
        setError(null);
      } catch (caught) {
        if (cancelled) return;
        failure = caught instanceof Error ? caught : new Error(String(caught));
        setError(failure);
      }
      const every = intervalRef.current;
      if (!cancelled) timer = setTimeout(run, typeof every === "number" ? every : every(last, failure));
    };
    void run();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [tick]);

  const refresh = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, refresh };
}
