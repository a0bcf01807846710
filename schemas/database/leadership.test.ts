// Leader election on a real PostgreSQL server: of three campaigners one leads; when its session is
// killed by the server (as when its process dies or the network cuts it) it steps down and another
// takes over; a resigning leader hands over too; the embedded database's one process leads at once.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { campaignInProcess, campaignOnPostgres, type Campaign } from './leadership.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

interface Campaigner {
  campaign: Campaign;
  history: string[];
}

function campaigner(lockName = 'test:leader'): Campaigner {
  const history: string[] = [];
  const campaign = campaignOnPostgres(database.url, lockName, {
    onElected: () => void history.push('elected'),
    onDeposed: () => void history.push('deposed'),
    onError: (error) => void history.push(`error: ${error instanceof Error ? error.message : String(error)}`),
    retryMs: 100,
    checkMs: 100,
  });
  return { campaign, history };
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const leaders = (all: Campaigner[]) => all.filter((c) => c.campaign.leading);

describe('leader election on PostgreSQL', () => {
  it('elects one of three; a killed session steps down and another takes over; a resigning leader hands over', async () => {
    const all = [campaigner(), campaigner(), campaigner()];
    try {
      await until('one leads', () => leaders(all).length === 1);
      // A while later there is still exactly one.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(leaders(all)).toHaveLength(1);
      const first = leaders(all)[0] as Campaigner;
      expect(first.history).toEqual(['elected']);

      // The server ends the leader's session: its lock goes with it.
      const admin = new pg.Client({ connectionString: database.url });
      await admin.connect();
      try {
        const killed = await admin.query(
          `select pg_terminate_backend(l.pid) as ok from pg_locks l where l.locktype = 'advisory' and l.granted and l.pid <> pg_backend_pid() and l.database = (select oid from pg_database where datname = current_database())`,
        );
        expect(killed.rows).toHaveLength(1);
      } finally {
        await admin.end();
      }
      await until('the old leader steps down', () => first.history.includes('deposed'));
      await until('another leads', () => leaders(all).length === 1 && !first.campaign.leading);
      const second = leaders(all)[0] as Campaigner;
      expect(second).not.toBe(first);
      expect(second.history).toEqual(['elected']);
      expect(first.history.filter((h) => h === 'elected')).toHaveLength(1);

      await second.campaign.resign();
      expect(second.history).toEqual(['elected', 'deposed']);
      expect(second.campaign.leading).toBe(false);
      await until('a third takes over', () => leaders(all).length === 1);
      expect(leaders(all)[0]).not.toBe(second);
    } finally {
      await Promise.all(all.map((c) => c.campaign.resign()));
    }
    expect(leaders(all)).toHaveLength(0);
  });

  it('keeps campaigns for different names apart', async () => {
    const one = campaigner('test:first');
    const two = campaigner('test:second');
    try {
      await until('both lead', () => one.campaign.leading && two.campaign.leading);
    } finally {
      await one.campaign.resign();
      await two.campaign.resign();
    }
  });

  it('keeps trying while the server cannot be reached, and reports it', async () => {
    const history: string[] = [];
    const campaign = campaignOnPostgres('postgres://postgres@127.0.0.1:1/nowhere', 'test:leader', {
      onElected: () => void history.push('elected'),
      onDeposed: () => void history.push('deposed'),
      onError: () => void history.push('error'),
      retryMs: 50,
      checkMs: 50,
    });
    await until('two failed tries', () => history.filter((h) => h === 'error').length >= 2);
    await campaign.resign();
    expect(history.every((h) => h === 'error')).toBe(true);
  });
});

describe('leader election on the embedded database', () => {
  it('leads at once and steps down on resign', async () => {
    const history: string[] = [];
    const campaign = campaignInProcess({ onElected: () => void history.push('elected'), onDeposed: () => void history.push('deposed') });
    expect(campaign.leading).toBe(true);
    await until('elected', () => history.length === 1);
    await campaign.resign();
    expect(history).toEqual(['elected', 'deposed']);
    expect(campaign.leading).toBe(false);
  });
});
