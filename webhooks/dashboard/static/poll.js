// Repeats a read while a view is shown: at once, then every `ms` (slower while the tab is
// hidden), until the view's signal aborts or `step` returns false. A failed read is reported to
// the view and retried; a 401 ends the loop (the page asks for a token).
import { Unauthorized } from './api.js';

export async function poll(ctx, ms, step) {
  while (!ctx.signal.aborted) {
    try {
      if ((await step()) === false) return;
    } catch (error) {
      ctx.fail(error);
      if (error instanceof Unauthorized) return;
    }
    await new Promise((resolve) => setTimeout(resolve, document.hidden ? ms * 5 : ms));
  }
}
