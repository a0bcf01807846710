// The contract every queue driver keeps, as one vitest suite: `drivers.test.ts` runs it against
// BullMQ on Redis and the embedded driver on PostgreSQL and on PGlite. It uses its own small
// catalog (short backoffs) so retries take milliseconds. Each test gets fresh storage, and a
// driver a test leaves open fails that test.
import { createHook } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defineCatalog, defineJob, InvalidPayloadError } from './catalog.js';
import type { CrashChildArgs, CrashChildStorage } from './crash-loop-child.js';
import type { Handlers, JobContext, JobFailure, QueueDriver } from './driver.js';

const Key = Type.String({ minLength: 1 });

export const contractCatalog = defineCatalog({
  alpha: {
    echo: defineJob({
      payload: Type.Object({ key: Key }, { additionalProperties: false }),
      attempts: 1,
      backoff: { type: 'exponential', delayMs: 10 },
      jobId: (p) => `echo:${p.key}`,
    }),
    flaky: defineJob({
      payload: Type.Object({ key: Key, failTimes: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
      attempts: 3,
      backoff: { type: 'exponential', delayMs: 40 },
      jobId: (p) => `flaky:${p.key}`,
    }),
  },
  beta: {
    slow: defineJob({
      payload: Type.Object({ key: Key, ms: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
      attempts: 2,
      backoff: { type: 'exponential', delayMs: 10 },
      jobId: (p) => `slow:${p.key}`,
    }),
  },
});
export type ContractCatalog = typeof contractCatalog;

export interface ContractDriverOptions {
  closeTimeoutMs?: number;
}

export interface ContractTarget {
  /** Fresh, empty storage for the next test (a new key prefix, an emptied table). */
  reset(): Promise<void>;
  /** A driver on the current test's storage; a second call in one test is a restart on the same storage. */
  makeDriver(options?: ContractDriverOptions): QueueDriver<ContractCatalog>;
  /** Once, after the suite: closes and removes what `setup` made. */
  teardown(): Promise<void>;
  /** Whether this target's drivers own every socket and timer they use, so open handles can be counted. */
  countsHandles: boolean;
  /** The current test's storage as another process opens it (absent: one process only, e.g. an in-memory PGlite). */
  childStorage?(): CrashChildStorage;
}

/** What one start of `crash-loop-child.ts` did. */
interface ChildStart {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
}

const CHILD = fileURLToPath(new URL('./crash-loop-child.ts', import.meta.url));

/** Starts the crash-loop child once and waits for it to exit (or be killed); a minute at most. */
function startChild(args: CrashChildArgs): Promise<ChildStart> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`crash-loop child exited with ${code}: ${err.slice(-2000)}`));
      else resolve({ code, signal, lines });
    });
  });
}

interface Call {
  job: string;
  key: string;
  attempt: number;
  at: number;
}

/** Polls `predicate` until it holds or `timeoutMs` passes (then fails with `what`). */
export async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Records the sockets and timers created until `closed()` is called, and which of them are still
 * alive: once every driver of a test is closed, none may be left.
 */
function trackHandles(): { closed: () => void; live: () => string[]; stop: () => void } {
  const live = new Map<number, string>();
  let recording = true;
  const hook = createHook({
    init(id, type) {
      if (recording && (type === 'Timeout' || type === 'TCPWRAP')) live.set(id, `${type} from ${new Error().stack?.split('\n').slice(3, 12).join('\n')}`);
    },
    destroy(id) {
      live.delete(id);
    },
  }).enable();
  return {
    closed: () => void (recording = false),
    live: () => [...live.values()],
    stop: () => void hook.disable(),
  };
}

/** `separateProcesses`: the storage can be opened by child processes too (then the crash-loop test runs). */
export function describeDriverContract(name: string, setup: () => Promise<ContractTarget>, separateProcesses = false): void {
  describe(`queue driver contract: ${name}`, () => {
    let target: ContractTarget;
    let opened: { driver: QueueDriver<ContractCatalog>; closed: () => boolean }[] = [];
    let calls: Call[] = [];
    let failures: JobFailure[] = [];

    beforeAll(async () => {
      target = await setup();
    });
    afterAll(async () => {
      await target?.teardown();
    });
    beforeEach(async () => {
      calls = [];
      failures = [];
      await target.reset();
    });
    afterEach(async () => {
      const leaked = opened.filter((o) => !o.closed());
      await Promise.all(opened.map((o) => o.driver.close()));
      opened = [];
      expect(leaked.length, 'drivers left open by the test (a leaked worker)').toBe(0);
    });

    /** A driver whose closing is tracked (afterEach fails a test that leaves one open). */
    function open(options?: ContractDriverOptions): QueueDriver<ContractCatalog> {
      const driver = target.makeDriver(options);
      let closed = false;
      const close = driver.close.bind(driver);
      const tracked: QueueDriver<ContractCatalog> = Object.assign(Object.create(driver) as QueueDriver<ContractCatalog>, {
        close: () => {
          closed = true;
          return close();
        },
      });
      opened.push({ driver: tracked, closed: () => closed });
      return tracked;
    }

    const record = (job: string, key: string, ctx: JobContext) => calls.push({ job, key, attempt: ctx.attempt, at: Date.now() });

    /** Handlers that record every run: echo succeeds, flaky fails its first `failTimes` runs, slow sleeps `ms`. */
    function handlers(overrides: Partial<Handlers<ContractCatalog>> = {}): Handlers<ContractCatalog> {
      return {
        echo: async (p, ctx) => {
          record('echo', p.key, ctx);
        },
        flaky: async (p, ctx) => {
          record('flaky', p.key, ctx);
          if (ctx.attempt <= p.failTimes) throw new Error(`flaky failure ${ctx.attempt}`);
        },
        slow: async (p, ctx) => {
          record('slow', p.key, ctx);
          await sleep(p.ms);
        },
        ...overrides,
      };
    }

    const work = (driver: QueueDriver<ContractCatalog>, h: Handlers<ContractCatalog>, concurrency = 5) =>
      driver.work(h, { concurrency, onFailed: (f) => failures.push(f) });

    const ran = (key: string) => calls.filter((c) => c.key === key);

    it('processes an enqueued job once and reports it completed', async () => {
      const driver = open();
      expect(await driver.enqueue('alpha', 'echo', { key: 'a' })).toEqual({ id: 'echo:a', added: true });
      expect(await driver.stats('alpha')).toMatchObject({ waiting: 1, active: 0 });
      await work(driver, handlers());
      await waitFor('echo:a to complete', async () => (await driver.getJob('alpha', 'echo:a'))?.status === 'completed');
      await sleep(200);
      expect(ran('a')).toEqual([expect.objectContaining({ job: 'echo', attempt: 1 })]);
      expect(await driver.getJob('alpha', 'echo:a')).toMatchObject({ id: 'echo:a', job: 'echo', status: 'completed', attempts: 1, payload: { key: 'a' } });
      expect(await driver.stats('alpha')).toEqual({ waiting: 0, active: 0, completed: 1, failed: 0 });
      expect(await driver.getJob('alpha', 'echo:missing')).toBeUndefined();
      await driver.close();
    });

    it('adds a job id once: a duplicate is a no-op that says so, and the job runs once', async () => {
      const driver = open();
      expect(await driver.enqueue('alpha', 'echo', { key: 'a' })).toEqual({ id: 'echo:a', added: true });
      expect(await driver.enqueue('alpha', 'echo', { key: 'a' })).toEqual({ id: 'echo:a', added: false });
      const many = await driver.enqueueMany([
        { queue: 'alpha', job: 'echo', payload: { key: 'a' } },
        { queue: 'alpha', job: 'echo', payload: { key: 'b' } },
        { queue: 'alpha', job: 'echo', payload: { key: 'b' } },
        { queue: 'beta', job: 'slow', payload: { key: 'c', ms: 0 } },
      ]);
      expect(many).toEqual([
        { id: 'echo:a', added: false },
        { id: 'echo:b', added: true },
        { id: 'echo:b', added: false },
        { id: 'slow:c', added: true },
      ]);
      expect(await driver.stats('alpha')).toMatchObject({ waiting: 2 });
      await work(driver, handlers());
      await waitFor('three jobs to run', () => calls.length >= 3);
      // Once completed (and retained), the same id is still not added again.
      await waitFor('echo:b to complete', async () => (await driver.getJob('alpha', 'echo:b'))?.status === 'completed');
      expect(await driver.enqueue('alpha', 'echo', { key: 'b' })).toEqual({ id: 'echo:b', added: false });
      await sleep(250);
      expect(calls.map((c) => c.key).sort()).toEqual(['a', 'b', 'c']);
      await driver.close();
    });

    it('rejects a payload that does not match its schema, saying which job and which field', async () => {
      const driver = open();
      const bad = driver.enqueue('alpha', 'echo', { key: 5 } as unknown as { key: string });
      await expect(bad).rejects.toBeInstanceOf(InvalidPayloadError);
      await expect(bad).rejects.toThrow(/invalid payload for job 'echo' on queue 'alpha': \/key: Expected string/);
      await expect(driver.enqueue('alpha', 'echo', { key: 'a', body: 'x' } as { key: string })).rejects.toThrow(/job 'echo'.*body/);
      await expect(driver.enqueue('alpha', 'nope' as 'echo', { key: 'a' })).rejects.toThrow(/unknown job 'nope' on queue 'alpha'/);
      // One bad item and none of the batch is added.
      await expect(
        driver.enqueueMany([
          { queue: 'alpha', job: 'echo', payload: { key: 'fine' } },
          { queue: 'beta', job: 'slow', payload: { key: 'x', ms: -1 } },
        ]),
      ).rejects.toThrow(/job 'slow' on queue 'beta': \/ms/);
      expect(await driver.stats('alpha')).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0 });
      await driver.close();
    });

    it('retries a failing handler with exponential backoff until its attempts are spent, then the job is failed with its error', async () => {
      const driver = open();
      await driver.enqueue('alpha', 'flaky', { key: 'always', failTimes: 99 });
      await driver.enqueue('alpha', 'flaky', { key: 'once', failTimes: 1 });
      await work(driver, handlers());
      await waitFor('flaky:always to fail', async () => (await driver.getJob('alpha', 'flaky:always'))?.status === 'failed');
      await waitFor('flaky:once to complete', async () => (await driver.getJob('alpha', 'flaky:once'))?.status === 'completed');
      const always = ran('always');
      expect(always.map((c) => c.attempt)).toEqual([1, 2, 3]);
      // Backoff 40 ms then 80 ms (a little slack for timer precision).
      expect((always[1] as Call).at - (always[0] as Call).at).toBeGreaterThanOrEqual(35);
      expect((always[2] as Call).at - (always[1] as Call).at).toBeGreaterThanOrEqual(75);
      expect(await driver.getJob('alpha', 'flaky:always')).toMatchObject({ status: 'failed', attempts: 3, error: 'flaky failure 3' });
      expect(ran('once').map((c) => c.attempt)).toEqual([1, 2]);
      expect(await driver.getJob('alpha', 'flaky:once')).toMatchObject({ status: 'completed', attempts: 2 });
      expect(await driver.stats('alpha')).toEqual({ waiting: 0, active: 0, completed: 1, failed: 1 });
      const reported = failures.filter((f) => f.id === 'flaky:always').map((f) => [f.attempt, f.final, (f.error as Error).message]);
      expect(reported).toEqual([
        [1, false, 'flaky failure 1'],
        [2, false, 'flaky failure 2'],
        [3, true, 'flaky failure 3'],
      ]);
      await sleep(200);
      expect(ran('always')).toHaveLength(3);
      await driver.close();
    });

    it('does not run a delayed job before its delay', async () => {
      const driver = open();
      await work(driver, handlers());
      const start = Date.now();
      await driver.enqueueMany([
        { queue: 'alpha', job: 'echo', payload: { key: 'later' }, delayMs: 700 },
        { queue: 'alpha', job: 'echo', payload: { key: 'now' } },
      ]);
      await waitFor('the undelayed job', () => ran('now').length === 1);
      await sleep(300);
      expect(ran('later')).toHaveLength(0);
      expect(await driver.getJob('alpha', 'echo:later')).toMatchObject({ status: 'waiting' });
      await waitFor('the delayed job', () => ran('later').length === 1, 5_000);
      expect((ran('later')[0] as Call).at - start).toBeGreaterThanOrEqual(690);
      await driver.close();
    });

    it('runs at most `concurrency` jobs of a queue at once', async () => {
      const driver = open();
      let inFlight = 0;
      let most = 0;
      await driver.enqueueMany(Array.from({ length: 12 }, (_, i) => ({ queue: 'beta' as const, job: 'slow' as const, payload: { key: `k${i}`, ms: 60 } })));
      await work(
        driver,
        handlers({
          slow: async (p, ctx) => {
            record('slow', p.key, ctx);
            inFlight++;
            most = Math.max(most, inFlight);
            await sleep(p.ms);
            inFlight--;
          },
        }),
        3,
      );
      await waitFor('all twelve jobs', async () => (await driver.stats('beta')).completed === 12, 10_000);
      expect(most).toBe(3);
      expect(calls).toHaveLength(12);
      await driver.close();
    });

    it('close waits for a running job, is idempotent, and leaves no worker behind', async () => {
      const handles = trackHandles();
      const driver = open();
      let finished = false;
      await driver.enqueue('beta', 'slow', { key: 'busy', ms: 400 });
      await work(
        driver,
        handlers({
          slow: async (p, ctx) => {
            record('slow', p.key, ctx);
            await sleep(p.ms);
            finished = true;
          },
        }),
      );
      await waitFor('the job to start', () => calls.length === 1);
      const first = driver.close();
      const second = driver.close();
      await Promise.all([first, second]);
      expect(finished).toBe(true);
      await driver.close();
      await expect(driver.enqueue('alpha', 'echo', { key: 'x' })).rejects.toThrow(/closed/);

      // Another driver on the same storage: the job is completed, and a new job is left alone.
      const other = open();
      expect(await other.getJob('beta', 'slow:busy')).toMatchObject({ status: 'completed' });
      await other.enqueue('alpha', 'echo', { key: 'after-close' });
      await sleep(400);
      expect(ran('after-close')).toHaveLength(0);
      expect(await other.stats('alpha')).toMatchObject({ waiting: 1, active: 0 });
      await other.close();
      handles.closed();
      try {
        if (target.countsHandles) {
          await waitFor('sockets and timers to be released', () => handles.live().length === 0, 2_000).catch(() => {
            expect(handles.live(), 'sockets and timers left by closed drivers').toEqual([]);
          });
        }
      } finally {
        handles.stop();
      }
    });

    it('close gives up on a handler that outlives its timeout: the signal aborts and the job waits for another worker', async () => {
      const driver = open({ closeTimeoutMs: 300 });
      let aborted = false;
      await driver.enqueue('beta', 'slow', { key: 'stuck', ms: 60_000 });
      await work(
        driver,
        handlers({
          slow: async (p, ctx) => {
            record('slow', p.key, ctx);
            await new Promise<void>((resolve) =>
              ctx.signal.addEventListener('abort', () => {
                aborted = true;
                resolve();
              }),
            );
            // Ignores the abort for a while longer: close must not wait for it.
            await sleep(2_000);
          },
        }),
      );
      await waitFor('the job to start', () => calls.length === 1);
      const start = Date.now();
      await driver.close();
      expect(Date.now() - start).toBeLessThan(2_000);
      expect(aborted).toBe(true);

      const next = open();
      expect(await next.getJob('beta', 'slow:stuck')).toMatchObject({ status: 'waiting' });
      await work(next, handlers({ slow: async (p, ctx) => void record('slow', p.key, ctx) }));
      await waitFor('the job to run again', () => calls.length === 2);
      // Given back, not failed: the second run is attempt 1 again.
      expect(ran('stuck').map((c) => c.attempt)).toEqual([1, 1]);
      await next.close();
    });

    // Defined only where child processes can open the storage (an in-memory PGlite cannot be shared).
    if (separateProcesses) {
      it(
        'parks a job that crashed its process maxCrashes times: failed with a crash-loop error, not run on the next start',
        async () => {
          const storage = target.childStorage?.();
          if (!storage) throw new Error(`the target ${name} cannot be opened from another process`);
          const args: CrashChildArgs = { storage, key: `loop-${Date.now()}`, maxCrashes: 2, lockMs: 500 };
          const first = await startChild(args);
          const second = await startChild(args);
          // Both starts ran the job, and it killed them.
          for (const start of [first, second]) {
            expect(start.signal).toBe('SIGKILL');
            expect(start.lines.filter((l) => 'running' in l)).toHaveLength(1);
          }
          const third = await startChild(args);
          expect(third.code).toBe(0);
          expect(third.lines.filter((l) => 'running' in l), 'the third start ran the job that crashed twice').toEqual([]);
          const id = `crash:${args.key}`;
          const message = `job ${id} was running when its process died 2 times (a crash loop?); parked — not retried (limits.jobs.maxCrashes)`;
          expect(third.lines.find((l) => 'job' in l)?.job).toMatchObject({ id, status: 'failed', error: message });
          expect(third.lines.find((l) => 'failed' in l)?.failed).toEqual({ id, final: true, parked: true, message });
        },
        180_000,
      );
    }

    it('keeps jobs enqueued before any worker across a restart', async () => {
      const producer = open();
      await producer.enqueue('alpha', 'echo', { key: 'one' });
      await producer.enqueue('alpha', 'echo', { key: 'two' }, { delayMs: 200 });
      await producer.enqueue('beta', 'slow', { key: 'three', ms: 0 });
      await producer.close();

      const consumer = open();
      expect(await consumer.stats('alpha')).toMatchObject({ waiting: 2 });
      await work(consumer, handlers());
      await waitFor('the three jobs', () => calls.length === 3);
      expect(calls.map((c) => c.key).sort()).toEqual(['one', 'three', 'two']);
      await consumer.close();
    });
  });
}
