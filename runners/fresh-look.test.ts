// freshLooks: looks are shared, but a call never gets a look that began before it.
import { describe, expect, it } from 'vitest';
import { freshLooks } from './fresh-look.js';

describe('freshLooks', () => {
  it('gives a call made during a look the next look, shared by every such call', async () => {
    let started = 0;
    const releases: (() => void)[] = [];
    const look = freshLooks(async () => {
      const n = ++started;
      await new Promise<void>((r) => releases.push(r));
      return n;
    });
    const first = look();
    const second = look();
    const third = look();
    expect(started).toBe(1);
    releases.shift()?.();
    expect(await first).toBe(1);
    // The first look began before the others were asked for: they get a second one, together.
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toBe(2);
    releases.shift()?.();
    expect(await second).toBe(2);
    expect(await third).toBe(2);
    // Idle again: a call starts a look of its own at once.
    const fourth = look();
    expect(started).toBe(3);
    releases.shift()?.();
    expect(await fourth).toBe(3);
  });

  it('starts the next look after a failed one', async () => {
    let calls = 0;
    let fail: (e: Error) => void = () => undefined;
    const look = freshLooks(() => (++calls === 1 ? new Promise<number>((_, reject) => (fail = reject)) : Promise.resolve(calls)));
    const first = look();
    const second = look();
    fail(new Error('unreachable host'));
    await expect(first).rejects.toThrow('unreachable host');
    expect(await second).toBe(2);
  });
});
