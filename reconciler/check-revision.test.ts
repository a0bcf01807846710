// The revision checker against a real git server: a commit on a branch the source does not
// follow is fetched and validated (dir and ignore applied, paths in the repository), with the
// validator's findings; the source's token is used to read and kept out of messages; a commit
// without the source's folder is refused as DirNotFound.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../config/index.js';
import { createSecretStore } from '../config/index.js';
import { validateFiles } from '../schemas/index.js';
import { aliasBomb } from '../test/helpers/alias-bomb.js';
import { startGitServer, type GitServer, type TestRepo } from '../test/helpers/git-server.js';
import { createRevisionChecker, type RevisionChecker } from './check-revision.js';
import { SourceError } from './errors.js';

const TOKEN = 'check-token-7f3a';
// A local actuator, so the pipelines' tasks have somewhere to run (no selector warning).
const ACTUATOR = `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: here }
spec: { local: {} }
---
`;
const PIPELINE = `${ACTUATOR}apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: ci }
spec:
  tasks:
    - name: build
      commands: [ "echo build" ]
`;
const BROKEN = `${ACTUATOR}apiVersion: eventops.dev/v1
kind: Pipeline
metadata: { name: ci }
spec:
  tasks:
    - name: build
      commands: [ "echo build" ]
    - name: test
      needs: [ compile ]
      commands: [ "echo test" ]
`;

describe('createRevisionChecker', () => {
  let server: GitServer;
  let repo: TestRepo;
  let dataDir: string;
  let checker: RevisionChecker;
  let main: string;
  let feature: string;
  let noDir: string;
  let bomb: string;
  const config = (over: Partial<SourceConfig> = {}): SourceConfig => ({ name: 'ops', type: 'git', url: server.url('acme/ops'), ref: 'main', dir: 'eventops', intervalMs: 60_000, timeoutMs: 10_000, ignore: ['drafts/**'], tokenSecret: 'GIT_TOKEN', secrets: [], ...over });

  beforeAll(async () => {
    server = await startGitServer({ token: TOKEN });
    repo = await server.createRepo('acme/ops');
    await repo.write({ 'eventops/pipelines.yaml': PIPELINE, 'eventops/drafts/wip.yaml': 'not: [valid', 'other/x.yaml': 'kind: Nonsense\n' });
    main = await repo.commit('main');
    await repo.git('checkout', '-q', '-b', 'feature');
    await repo.write({ 'eventops/pipelines.yaml': BROKEN });
    feature = await repo.commit('break it');
    await repo.git('checkout', '-q', '-b', 'no-dir');
    await repo.write({ 'eventops/pipelines.yaml': null, 'eventops/drafts/wip.yaml': null });
    noDir = await repo.commit('drop the folder');
    // Four levels of nine aliases: 6,561 leaves, and over 100 aliases counted as expansion copies them.
    await repo.write({ 'eventops/bomb.yaml': aliasBomb({ head: 'apiVersion: eventops.dev/v1\nkind: Event\ntype: bomb\n', under: 'body', levels: 4 }) });
    bomb = await repo.commit('an alias bomb');
    await repo.git('checkout', '-q', 'main');
    dataDir = await mkdtemp(join(tmpdir(), 'eventops-check-'));
    checker = createRevisionChecker({ dataDir, secrets: createSecretStore({ env: { EVENTOPS_SECRET_GIT_TOKEN: TOKEN } }) });
  });
  afterAll(async () => {
    await checker?.close();
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('validates the commit of a branch the source does not follow, with the validator\'s findings at repository paths', async () => {
    const result = await checker.check(config(), feature);
    expect(result).toMatchObject({ source: 'ops', commit: feature, files: 1, errors: 1, warnings: 0 });
    // The same findings as the validator gives for the same file under the same path.
    const expected = validateFiles([{ path: 'eventops/pipelines.yaml', text: BROKEN }]).diagnostics;
    expect(result.diagnostics).toEqual(expected);
    expect(result.diagnostics[0]).toMatchObject({ file: 'eventops/pipelines.yaml', line: 14, severity: 'error' });
  });

  it('a valid commit: its definitions as the reconciler stores them (file with dir, line, spec, content hash); ignore and other folders left out', async () => {
    const result = await checker.check(config(), main);
    expect(result).toMatchObject({ files: 1, errors: 0, diagnostics: [] });
    expect(result.definitions.map((d) => d.kind)).toEqual(['Actuator', 'Pipeline']);
    expect(result.definitions[1]).toMatchObject({ kind: 'Pipeline', name: 'ci', file: 'eventops/pipelines.yaml', line: 6, spec: { tasks: [{ name: 'build', commands: ['echo build'] }] } });
    expect(result.definitions[0]?.contentHash).toMatch(/^[0-9a-f]{64}$/);
    // Without the ignore glob, the draft is read and fails.
    const strict = await createRevisionChecker({ dataDir, secrets: createSecretStore({ env: { EVENTOPS_SECRET_GIT_TOKEN: TOKEN } }) }).check(config({ name: 'ops-strict', ignore: [] }), main);
    expect(strict.files).toBe(2);
    expect(strict.errors).toBeGreaterThan(0);
    expect(strict.diagnostics[0]?.file).toBe('eventops/drafts/wip.yaml');
  });

  it('a commit without the source\'s folder is refused as DirNotFound (stalling)', async () => {
    const error = await checker.check(config(), noDir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ kind: 'stalling', reason: 'DirNotFound' });
  });

  it('the token is needed to read, and never appears in a message', async () => {
    const other = createRevisionChecker({ dataDir: join(dataDir, 'other'), secrets: createSecretStore({ env: {} }) });
    const missing = await other.check(config(), main).catch((e: unknown) => e);
    expect(missing).toMatchObject({ kind: 'stalling', reason: 'SecretNotFound' });
    const wrong = createRevisionChecker({ dataDir: join(dataDir, 'wrong'), secrets: createSecretStore({ env: { EVENTOPS_SECRET_GIT_TOKEN: 'not-the-token' } }) });
    const refused = await wrong.check(config(), main).catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: 'stalling', reason: 'AuthenticationFailed' });
    expect((refused as Error).message).not.toContain('not-the-token');
    const url = await createRevisionChecker({ dataDir: join(dataDir, 'url'), secrets: createSecretStore({ env: {} }) })
      .check(config({ tokenSecret: undefined, url: server.url('acme/ops').replace('http://', `http://x-access-token:${TOKEN}@`) }), main)
      .catch((e: unknown) => e);
    expect(url).toMatchObject({ errors: 0 });
    expect(JSON.stringify(url)).not.toContain(TOKEN);
  });

  it('refuses an alias bomb at its line, within limits.yaml', async () => {
    const result = await checker.check(config(), bomb);
    expect(result.diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.rule}`)).toEqual(['eventops/bomb.yaml:8:10 yaml-aliases']);
    const raised = createRevisionChecker({ dataDir: join(dataDir, 'raised'), secrets: createSecretStore({ env: { EVENTOPS_SECRET_GIT_TOKEN: TOKEN } }), yaml: { maxAliases: 1000 } });
    try {
      expect((await raised.check(config(), bomb)).diagnostics).toEqual([]);
    } finally {
      await raised.close();
    }
  });

  it('refuses a folder source', async () => {
    await expect(checker.check(config({ type: 'local', url: undefined, path: '/tmp' }), main)).rejects.toMatchObject({ reason: 'NotGit' });
  });
});
