// Tests of the local folder source against real temp folders: revisions follow content (not
// mtimes), blob ids match what the git CLI computes, filters, errors, and the debounced watch.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SourceError } from '../errors.js';
import { parseEntry } from '../parse-entry.js';
import { gitBlobId } from './blob-id.js';
import { createLocalSource } from './local-source.js';
import type { LocalSourceOptions } from './local-source.js';
import type { DefinitionSource } from './source.js';

let folder: string;
const opened: DefinitionSource[] = [];

beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'eventops-local-source-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((source) => source.close()));
  chmodSync(folder, 0o755);
  await rm(folder, { recursive: true, force: true });
});

function put(rel: string, text: string | Buffer): string {
  const file = join(folder, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function source(options: Partial<LocalSourceOptions> = {}): DefinitionSource {
  const created = createLocalSource({ name: 'local', path: folder, ...options });
  opened.push(created);
  return created;
}

async function paths(src: DefinitionSource): Promise<string[]> {
  const snapshot = await src.snapshot(await src.resolve());
  return snapshot.entries.map((e) => e.path);
}

async function failure(promise: Promise<unknown>): Promise<SourceError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SourceError);
  return err as SourceError;
}

describe('gitBlobId', () => {
  it('gives the ids git gives', () => {
    const samples: Record<string, string | Buffer> = {
      'empty.yaml': '',
      'plain.yaml': 'name: deploy\nsteps:\n  - run: make\n',
      'unicode.yaml': 'name: déploiement ✓\n',
      'crlf.yaml': 'a: 1\r\nb: 2\r\n',
      'bytes.yaml': Buffer.from([0, 1, 2, 255, 254, 10]),
    };
    for (const [rel, content] of Object.entries(samples)) {
      const file = put(rel, content);
      const expected = execFileSync('git', ['hash-object', file], { encoding: 'utf8' }).trim();
      expect(gitBlobId(typeof content === 'string' ? Buffer.from(content) : content), rel).toBe(expected);
    }
  });
});

describe('createLocalSource', () => {
  it('lists YAML files with the blob ids git computes, and reads them', async () => {
    put('b.yaml', 'b: 1\n');
    put('a/nested/deep.yml', 'deep: true\n');
    put('a.yaml', 'a: é\n');
    const src = source();
    const snapshot = await src.snapshot(await src.resolve());
    expect(snapshot.entries.map((e) => e.path)).toEqual(['a.yaml', 'a/nested/deep.yml', 'b.yaml']);
    for (const entry of snapshot.entries) {
      const gitOid = execFileSync('git', ['hash-object', join(folder, entry.path)], { encoding: 'utf8' }).trim();
      expect(entry.oid, entry.path).toBe(gitOid);
    }
    const first = snapshot.entries[0];
    expect(first && (await snapshot.read(first))).toBe('a: é\n');
  });

  it('keeps the revision when content is unchanged, even if mtimes move', async () => {
    const file = put('pipelines/deploy.yaml', 'name: deploy\n');
    put('pipelines/test.yaml', 'name: test\n');
    const src = source();
    const revision = await src.resolve();
    expect(revision).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await src.resolve()).toBe(revision);

    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    writeFileSync(file, 'name: deploy\n'); // rewritten with the same bytes
    expect(await src.resolve()).toBe(revision);
    // A second source over the same content agrees: the revision depends on content only.
    expect(await source().resolve()).toBe(revision);
  });

  it('changes the revision when a file is added, changed or deleted, and back when undone', async () => {
    put('a.yaml', 'a: 1\n');
    const src = source();
    const initial = await src.resolve();

    const added = put('b.yaml', 'b: 1\n');
    const afterAdd = await src.resolve();
    expect(afterAdd).not.toBe(initial);

    writeFileSync(added, 'b: 2\n');
    const afterChange = await src.resolve();
    expect(afterChange).not.toBe(afterAdd);

    await unlink(added);
    expect(await src.resolve()).toBe(initial);
  });

  it('does not re-read a file whose stat is unchanged, unless it was modified recently', async () => {
    // Same size, same inode, mtime put back: only a re-read could notice, so this shows the cache.
    const oldSeconds = Math.floor(Date.now() / 1000) - 3600;
    const file = put('a.yaml', 'v: 1\n');
    utimesSync(file, oldSeconds, oldSeconds);
    const src = source();
    const revision = await src.resolve();
    writeFileSync(file, 'v: 2\n');
    utimesSync(file, oldSeconds, oldSeconds);
    expect(await src.resolve()).toBe(revision);

    // A file modified within the last seconds may change again within one mtime tick: re-read.
    const recentSeconds = Math.floor(Date.now() / 1000);
    const recent = put('r.yaml', 'r: 1\n');
    utimesSync(recent, recentSeconds, recentSeconds);
    const before = await src.resolve();
    writeFileSync(recent, 'r: 2\n');
    utimesSync(recent, recentSeconds, recentSeconds);
    expect(statSync(recent).mtimeMs).toBe(recentSeconds * 1000);
    expect(await src.resolve()).not.toBe(before);
  });

  it('lists only dir, skipping hidden entries, node_modules, other extensions and ignore globs', async () => {
    put('outside.yaml', 'x: 1\n');
    put('defs/keep.yaml', 'k: 1\n');
    put('defs/sub/keep.yml', 'k: 2\n');
    put('defs/readme.md', '# no\n');
    put('defs/.hidden.yaml', 'h: 1\n');
    put('defs/.github/workflow.yaml', 'h: 2\n');
    put('defs/node_modules/pkg/x.yaml', 'n: 1\n');
    put('defs/drafts/wip.yaml', 'd: 1\n');
    put('defs/sub/skip.tmp.yaml', 't: 1\n');
    const src = source({ dir: 'defs', ignore: ['drafts/**', '**/*.tmp.yaml'] });
    expect(await paths(src)).toEqual(['keep.yaml', 'sub/keep.yml']);

    const revision = await src.resolve();
    put('defs/drafts/another.yaml', 'd: 2\n');
    put('defs/.cache/x.yaml', 'c: 1\n');
    put('outside2.yaml', 'x: 2\n');
    expect(await src.resolve()).toBe(revision);
  });

  it('reports a missing folder or dir as PathNotFound, naming the path', async () => {
    const missing = join(folder, 'nope');
    const errPath = await failure(createLocalSource({ name: 'x', path: missing }).resolve());
    expect([errPath.kind, errPath.reason]).toEqual(['stalling', 'PathNotFound']);
    expect(errPath.message).toContain(missing);

    const errDir = await failure(source({ dir: 'defs' }).resolve());
    expect([errDir.kind, errDir.reason]).toEqual(['stalling', 'PathNotFound']);
    expect(errDir.message).toContain(join(folder, 'defs'));

    put('file.yaml', 'a: 1\n');
    const errFile = await failure(source({ dir: 'file.yaml' }).resolve());
    expect(errFile.reason).toBe('PathNotFound');
  });

  it('rejects a relative path or a dir outside the folder', async () => {
    expect((await failure(createLocalSource({ name: 'x', path: 'relative/defs' }).resolve())).reason).toBe('InvalidPath');
    expect((await failure(source({ dir: '../elsewhere' }).resolve())).reason).toBe('InvalidPath');
  });

  it.skipIf(process.getuid?.() === 0)('reports an unreadable folder as PermissionDenied', async () => {
    put('locked/a.yaml', 'a: 1\n');
    chmodSync(join(folder, 'locked'), 0o000);
    try {
      const err = await failure(source().resolve());
      expect([err.kind, err.reason]).toEqual(['stalling', 'PermissionDenied']);
      expect(err.message).toContain(join(folder, 'locked'));
    } finally {
      chmodSync(join(folder, 'locked'), 0o755);
    }
  });

  it('reuses the listing for the same revision and reports the current one for a stale revision', async () => {
    put('a.yaml', 'a: 1\n');
    const src = source();
    const old = await src.resolve();
    put('b.yaml', 'b: 1\n');
    // Same revision: the listing of the resolve, without walking again.
    expect((await src.snapshot(old)).entries.map((e) => e.path)).toEqual(['a.yaml']);

    const snapshot = await src.snapshot('sha256:stale');
    expect(snapshot.revision).not.toBe(old);
    expect(snapshot.revision).toBe(await source().resolve());
    expect(snapshot.entries.map((e) => e.path)).toEqual(['a.yaml', 'b.yaml']);
  });

  it('fails a read with Changed (transient) when the file changed or vanished after listing', async () => {
    const file = put('a.yaml', 'a: 1\n');
    put('b.yaml', 'b: 1\n');
    const src = source();
    const snapshot = await src.snapshot(await src.resolve());
    const [a, b] = snapshot.entries;
    if (!a || !b) throw new Error('expected two entries');

    writeFileSync(file, 'a: 2\n');
    const changed = await failure(snapshot.read(a));
    expect([changed.kind, changed.reason]).toEqual(['transient', 'Changed']);
    expect(changed.message).toContain(file);

    await unlink(join(folder, 'b.yaml'));
    expect((await failure(snapshot.read(b))).reason).toBe('Changed');
  });

  it('never reads a symlinked file that leads out of the folder: it is a diagnostic of its own; links inside are followed', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'eventops-outside-'));
    try {
      // Not YAML at all: a parse error would quote it.
      const secret = 'root:$6$Zx9saltsalt$hashedpasswordhashedpassword:19000:0:99999:7:::\n"unclosed: [\n';
      writeFileSync(join(outside, 'shadow'), secret);
      put('a.yaml', 'apiVersion: eventops.dev/v1\nkind: Event\ntype: hello\n');
      symlinkSync(join(outside, 'shadow'), join(folder, 'leak.yaml'));
      symlinkSync('a.yaml', join(folder, 'inside.yaml'));
      mkdirSync(join(folder, 'sub'));
      symlinkSync('../../' + outside.split('/').pop() + '/shadow', join(folder, 'sub', 'relative.yaml'));
      const src = source();
      const snapshot = await src.snapshot(await src.resolve());
      expect(snapshot.entries.map((e) => e.path)).toEqual(['a.yaml', 'inside.yaml', 'leak.yaml', 'sub/relative.yaml']);
      const byPath = new Map(snapshot.entries.map((e) => [e.path, e]));
      expect(byPath.get('inside.yaml')?.oid).toBe(byPath.get('a.yaml')?.oid);
      expect(byPath.get('inside.yaml')?.refused).toBeUndefined();
      for (const path of ['leak.yaml', 'sub/relative.yaml']) {
        const entry = byPath.get(path);
        expect(entry?.refused).toBe(`${path}: is a symbolic link to a path outside the source folder; not read. Put the file itself in the folder, or point the link inside it`);
        await expect(snapshot.read(entry as NonNullable<typeof entry>)).rejects.toThrow(/outside the source folder/);
      }
      const parsed = await Promise.all(snapshot.entries.map((e) => parseEntry(snapshot, e, e.path, undefined)));
      const diagnostics = parsed.flatMap((f) => f.diagnostics);
      expect(diagnostics.map((d) => `${d.file}:${d.line}: ${d.rule}`)).toEqual(['leak.yaml:1: unreadable-file', 'sub/relative.yaml:1: unreadable-file']);
      expect(JSON.stringify(diagnostics)).not.toMatch(/hashedpassword|root:/);
      // Pointing the link elsewhere outside is a new revision (its id is that of the link's text).
      const before = await src.resolve();
      rmSync(join(folder, 'leak.yaml'));
      symlinkSync('/etc/hostname', join(folder, 'leak.yaml'));
      expect(await src.resolve()).not.toBe(before);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('does not read through a file replaced by a link out of the folder after it was listed', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'eventops-outside-'));
    try {
      writeFileSync(join(outside, 'shadow'), 'a: 1\n');
      put('a.yaml', 'a: 1\n');
      const src = source();
      const snapshot = await src.snapshot(await src.resolve());
      rmSync(join(folder, 'a.yaml'));
      symlinkSync(join(outside, 'shadow'), join(folder, 'a.yaml'));
      const err = await failure(snapshot.read(snapshot.entries[0] as NonNullable<(typeof snapshot.entries)[0]>));
      expect(err.reason).toBe('Changed');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('stops with Aborted (transient) when the signal is aborted', async () => {
    put('a.yaml', 'a: 1\n');
    const err = await failure(source().resolve(AbortSignal.abort()));
    expect([err.kind, err.reason]).toEqual(['transient', 'Aborted']);
  });

  it('is closed by close(), which is idempotent', async () => {
    put('a.yaml', 'a: 1\n');
    const src = source();
    await src.resolve();
    await src.close();
    await src.close();
    expect((await failure(src.resolve())).reason).toBe('Closed');
  });
});

describe('watch', () => {
  const debounceMs = 300;

  /** Calls counted by onChange, and a way to wait for the count to reach a value. */
  function counter(): { calls: () => number; onChange: () => void; reach: (n: number, timeoutMs?: number) => Promise<void> } {
    let calls = 0;
    return {
      calls: () => calls,
      onChange: () => {
        calls += 1;
      },
      reach: async (n, timeoutMs = 10_000) => {
        const until = Date.now() + timeoutMs;
        while (calls < n && Date.now() < until) await sleep(20);
        expect(calls).toBeGreaterThanOrEqual(n);
      },
    };
  }

  /** chokidar reports no readiness through the interface: write a probe until a change is seen, then let it settle. */
  async function waitUntilWatching(seen: ReturnType<typeof counter>): Promise<number> {
    const until = Date.now() + 10_000;
    for (let i = 0; seen.calls() === 0 && Date.now() < until; i++) {
      put('probe.yaml', `probe: ${i}\n`);
      await sleep(debounceMs + 200);
    }
    expect(seen.calls()).toBeGreaterThan(0);
    await sleep(debounceMs * 2);
    return seen.calls();
  }

  it('calls back once per burst of changes, again for a later change, and never after stop', async () => {
    put('defs/a.yaml', 'a: 0\n');
    const seen = counter();
    const stop = source({ debounceMs }).watch?.(seen.onChange);
    if (!stop) throw new Error('the local source can watch');
    const base = await waitUntilWatching(seen);

    for (let i = 0; i < 20; i++) await writeFile(join(folder, 'defs', `burst-${i % 5}.yaml`), `i: ${i}\n`);
    await sleep(debounceMs * 3);
    expect(seen.calls()).toBe(base + 1);

    await writeFile(join(folder, 'defs', 'a.yaml'), 'a: 1\n');
    await seen.reach(base + 2);
    await sleep(debounceMs * 2);
    expect(seen.calls()).toBe(base + 2);

    await stop();
    await stop();
    await writeFile(join(folder, 'defs', 'a.yaml'), 'a: 2\n');
    await sleep(debounceMs * 3);
    expect(seen.calls()).toBe(base + 2);
  });

  it('ignores hidden, node_modules, ignored and non-YAML files', async () => {
    put('drafts/old.yaml', 'x: 0\n');
    put('node_modules/x/a.yaml', 'x: 0\n');
    const seen = counter();
    source({ debounceMs, ignore: ['drafts/**'] }).watch?.(seen.onChange);
    const base = await waitUntilWatching(seen);

    put('.git/index.yaml', 'x: 1\n');
    put('node_modules/x/a.yaml', 'x: 1\n');
    put('notes.txt', 'x\n');
    put('drafts/wip.yaml', 'x: 1\n');
    await sleep(debounceMs * 3);
    expect(seen.calls()).toBe(base);

    put('real.yaml', 'x: 1\n');
    await seen.reach(base + 1);
  });

  it('does not watch through a symlinked folder that leads out of the folder', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'eventops-outside-'));
    try {
      symlinkSync(outside, join(folder, 'elsewhere'));
      const seen = counter();
      source({ debounceMs }).watch?.(seen.onChange);
      const base = await waitUntilWatching(seen);
      writeFileSync(join(outside, 'x.yaml'), 'x: 1\n');
      await sleep(debounceMs * 3);
      expect(seen.calls()).toBe(base);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('stops its watches on close', async () => {
    const seen = counter();
    const src = source({ debounceMs });
    src.watch?.(seen.onChange);
    const base = await waitUntilWatching(seen);
    await src.close();
    put('a.yaml', 'a: 1\n');
    await sleep(debounceMs * 3);
    expect(seen.calls()).toBe(base);
  });
});
