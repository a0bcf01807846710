// Which attempts a live worker still owns, for runners that find work left behind (a container,
// a remote process group, an agent's task) after a server was killed. An attempt is owned while
// it is its task's current attempt, `running`, and its lease has not run out: a worker renews the
// lease every third of it, so a lease that ran out means its worker is gone (the run sweeper then
// takes the attempt as lost), and a task at a later attempt has replaced it. Anything else found
// running for it is an orphan, stopped by the runner; the attempt's log says so. Work of a run
// this database does not know (another deployment sharing the host or daemon) is never touched.
import { and, eq, sql } from 'drizzle-orm';
import type { AttemptOwnership } from '../../runners/index.js';
import { logChunks, taskRuns, type Db } from '../../schemas/database/index.js';

export function attemptOwnership(db: Db): AttemptOwnership {
  return {
    async owned({ runId, task, attempt }) {
      const [row] = await db
        .select({ attempt: taskRuns.attempt, status: taskRuns.status, live: sql<boolean>`${taskRuns.leaseUntil} > now()` })
        .from(taskRuns)
        .where(and(eq(taskRuns.runId, runId), eq(taskRuns.name, task)))
        .limit(1);
      // A task this database does not know is not ours to judge: another deployment (or another
      // eventops on the same build host or Docker daemon) started it, and it is left alone.
      if (!row) return true;
      return row.attempt === attempt && row.status === 'running' && row.live === true;
    },
    async stopped({ runId, task, attempt }, what) {
      const text = `stopped an orphaned attempt ${attempt} of task ${task} left by a previous server (${what})`;
      // A run removed meanwhile has no log to write to.
      const [exists] = await db.select({ attempt: taskRuns.attempt }).from(taskRuns).where(and(eq(taskRuns.runId, runId), eq(taskRuns.name, task))).limit(1);
      if (exists) await db.insert(logChunks).values({ runId, task, attempt, lines: [{ at: Date.now(), stream: 'system', text }] });
    },
  };
}
