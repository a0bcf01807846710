// The signed 64-bit key of a named PostgreSQL advisory lock.
import { createHash } from 'node:crypto';

/** A signed 64-bit key for `pg_try_advisory_lock`, stable for a given name. */
export function lockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}
