// Group commit for calls that arrive together: each caller awaits its own result, while the work
// runs for many callers at once. A batch starts as soon as fewer than `maxInFlight` batches are
// running (after the current tick, so calls made together travel together); under load the
// calls that arrive while batches run wait and go in the next one. No timer: a lone call is not
// delayed.

export interface MicroBatchOptions {
  /** Most items in one batch. */
  maxSize: number;
  /** Most batches running at once. */
  maxInFlight: number;
}

/**
 * `run` gets the batch's items and returns one settled result per item, in order (an item that
 * failed on its own gets its error; a thrown `run` fails every item of the batch).
 */
export function microBatch<I, O>(run: (items: readonly I[]) => Promise<PromiseSettledResult<O>[]>, options: MicroBatchOptions): (item: I) => Promise<O> {
  const waiting: { item: I; resolve(value: O): void; reject(error: unknown): void }[] = [];
  let inFlight = 0;
  let scheduled = false;

  const schedule = () => {
    if (scheduled || waiting.length === 0 || inFlight >= options.maxInFlight) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      while (waiting.length > 0 && inFlight < options.maxInFlight) void start(waiting.splice(0, options.maxSize));
    });
  };

  const start = async (batch: typeof waiting) => {
    inFlight++;
    try {
      const results = await run(batch.map((w) => w.item));
      batch.forEach((w, i) => {
        const result = results[i];
        if (result?.status === 'fulfilled') w.resolve(result.value);
        else w.reject(result ? result.reason : new Error('the batch returned no result for this item'));
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      inFlight--;
      schedule();
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      waiting.push({ item, resolve, reject });
      schedule();
    });
}
