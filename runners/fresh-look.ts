// One look for orphans at a time, and never a stale one: a look already under way when an
// attempt asks may have judged that attempt's predecessor still owned (its lease had not run
// out, or the new attempt did not exist yet), so the attempt would start beside the orphan. A
// caller therefore gets a look that starts after its call — shared with every caller that asked
// while the one under way finished.

/** Wraps `look` so that calls share looks, but each call's look starts after the call. */
export function freshLooks<T>(look: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  let next: Promise<T> | undefined;
  const start = (): Promise<T> => {
    const current: Promise<T> = look().finally(() => {
      if (running === current) running = undefined;
    });
    running = current;
    return current;
  };
  return () => {
    if (!running) return start();
    next ??= running.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}
