// Status conditions of a source, Kubernetes-style. Steps record what happened (a fetch failed,
// a revision was invalid); `Ready` is never set by a step but derived from the others here.
import type { Condition } from '../schemas/database/index.js';

export type ConditionType = Condition['type'];
/** The conditions that make a source not Ready, strongest first. */
const NEGATIVE: readonly ConditionType[] = ['Stalled', 'FetchFailed', 'ValidationFailed'];

/** A revision as people read it: 12 hex digits of a commit or of a folder's content hash. */
export function shortRevision(revision: string): string {
  return revision.replace(/^sha256:/, '').slice(0, 12);
}

/** `conditions` with `type` set; keeps lastTransitionTime when the status did not change. */
export function setCondition(conditions: readonly Condition[], type: ConditionType, status: Condition['status'], reason: string, message: string, now: Date): Condition[] {
  const previous = conditions.find((c) => c.type === type);
  const lastTransitionTime = previous && previous.status === status ? previous.lastTransitionTime : now.toISOString();
  return [...conditions.filter((c) => c.type !== type), { type, status, reason, message, lastTransitionTime }];
}

export function removeCondition(conditions: readonly Condition[], type: ConditionType): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

export function isTrue(conditions: readonly Condition[], type: ConditionType): boolean {
  return conditions.some((c) => c.type === type && c.status === 'True');
}

/**
 * Sets `Ready` from the others: False with the reason of the strongest failing condition;
 * True when a revision is active and nothing fails; Unknown while nothing was ever applied.
 */
export function deriveReady(conditions: readonly Condition[], activeRevision: string | undefined, now: Date): Condition[] {
  const retrying = conditions.find((c) => c.type === 'Reconciling' && c.status === 'True' && c.reason === 'ProgressingWithRetry');
  const failing = NEGATIVE.map((t) => conditions.find((c) => c.type === t && c.status === 'True')).find(Boolean) ?? retrying;
  const kept = activeRevision ? ` (revision ${shortRevision(activeRevision)} stays active)` : '';
  const ready = failing
    ? setCondition(conditions, 'Ready', 'False', failing.reason, `${failing.message}${kept}`, now)
    : activeRevision
      ? setCondition(conditions, 'Ready', 'True', 'Succeeded', `revision ${shortRevision(activeRevision)} is active`, now)
      : setCondition(conditions, 'Ready', 'Unknown', 'Progressing', 'no revision applied yet', now);
  // A stable order makes status easy to read and to compare.
  const order: ConditionType[] = ['Ready', 'Reconciling', 'Stalled', 'FetchFailed', 'ValidationFailed'];
  return ready.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}
