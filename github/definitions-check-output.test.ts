// What the eventops/definitions check run says: conclusion, title, summary (findings or plan)
// and annotations, within GitHub's limits.
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../schemas/index.js';
import { definitionsCheckOutput, MAX_DEFINITION_ANNOTATIONS, type SourceCheckResult } from './definitions-check-output.js';
import { planDefinitions } from './definitions-plan.js';

const SHA = 'a'.repeat(40);
const ACTIVE = 'b'.repeat(40);
const diag = (over: Partial<Diagnostic> = {}): Diagnostic => ({ file: 'eventops/pipelines.yaml', line: 7, column: 9, severity: 'error', rule: 'pipeline-needs', message: 'task test needs build, which does not exist', ...over });
const checked = (over: Partial<Extract<SourceCheckResult, { kind: 'checked' }>> = {}): SourceCheckResult => ({ source: 'ops', dir: 'eventops', kind: 'checked', files: 2, definitions: 3, diagnostics: [], errors: 0, warnings: 0, active: { commit: ACTIVE }, ...over });

describe('definitionsCheckOutput', () => {
  it('errors: failure, one annotation per finding at file, line and column, and the active revision is said to stay', () => {
    const out = definitionsCheckOutput({ sha: SHA, results: [checked({ diagnostics: [diag(), diag({ severity: 'warning', rule: 'ssh-host-key', line: 3, column: 1, message: 'no hostKey' })], errors: 1, warnings: 1 })] });
    expect(out.conclusion).toBe('failure');
    expect(out.title).toBe('1 error, 1 warning: not applied if merged');
    expect(out.annotations).toEqual([
      { path: 'eventops/pipelines.yaml', start_line: 7, end_line: 7, start_column: 9, end_column: 9, annotation_level: 'failure', title: 'error [pipeline-needs]', message: 'task test needs build, which does not exist' },
      { path: 'eventops/pipelines.yaml', start_line: 3, end_line: 3, start_column: 1, end_column: 1, annotation_level: 'warning', title: 'warning [ssh-host-key]', message: 'no hostKey' },
    ]);
    expect(out.summary).toContain(`revision \`${ACTIVE.slice(0, 12)}\` stays active`);
    expect(out.summary).toContain('| ❌ eventops/pipelines.yaml | 7:9 | pipeline-needs | task test needs build, which does not exist |');
    expect(out.summary).not.toContain('**Plan**');
  });

  it('valid with a plan: success, the plan in the summary, the counts in the title; warnings do not fail it', () => {
    const plan = planDefinitions(
      [{ kind: 'Pipeline', name: 'ci', file: 'eventops/p.yaml', line: 1, spec: { timeout: '10m', tasks: [] } }, { kind: 'Actuator', name: 'old', file: 'eventops/a.yaml', line: 4, spec: {} }],
      [{ kind: 'Pipeline', name: 'ci', file: 'eventops/p.yaml', line: 1, spec: { timeout: '20m', tasks: [] } }, { kind: 'Pipeline', name: 'release', file: 'eventops/r.yaml', line: 1, spec: {} }],
    );
    const out = definitionsCheckOutput({ sha: SHA, results: [checked({ plan, warnings: 1, diagnostics: [diag({ severity: 'warning' })] })] });
    expect(out.conclusion).toBe('success');
    expect(out.title).toBe('Valid: 1 added, 1 changed, 1 removed (1 warning)');
    expect(out.summary).toContain('merging would add 1, change 1 and remove 1; 0 unchanged');
    expect(out.summary).toContain('- ➕ Pipeline `release` — eventops/r.yaml:1');
    expect(out.summary).toContain('- ✏️ Pipeline `ci` — `spec.timeout` `10m` → `20m`');
    expect(out.summary).toContain('- ➖ Actuator `old` — was eventops/a.yaml:4');
    expect(out.annotations.map((a) => a.annotation_level)).toEqual(['warning']);
  });

  it('a credential-like value is never shown in the plan', () => {
    const plan = planDefinitions([{ kind: 'Actuator', name: 'a', file: 'f', line: 1, spec: { password: 'hunter2x' } }], [{ kind: 'Actuator', name: 'a', file: 'f', line: 1, spec: { password: 'hunter3y' } }]);
    const out = definitionsCheckOutput({ sha: SHA, results: [checked({ plan })] });
    expect(out.summary).toContain('`spec.password`');
    expect(out.summary).not.toMatch(/hunter/);
  });

  it('the commit that is already active: nothing would change', () => {
    const out = definitionsCheckOutput({ sha: ACTIVE, results: [checked({ plan: planDefinitions([], []) })] });
    expect(out.conclusion).toBe('success');
    expect(out.summary).toContain('This commit is the source\'s active revision: merging it changes nothing.');
  });

  it('no definition file at all: neutral, and the plan shows what would be removed', () => {
    const plan = planDefinitions([{ kind: 'Pipeline', name: 'ci', file: 'eventops/p.yaml', line: 1, spec: {} }], []);
    const out = definitionsCheckOutput({ sha: SHA, results: [checked({ files: 0, definitions: 0, plan })] });
    expect(out.conclusion).toBe('neutral');
    expect(out.title).toBe('No definition files at this commit');
    expect(out.summary).toContain('- ➖ Pipeline `ci`');
  });

  it('a source that could not be read: neutral, unless the commit broke it (its dir is gone): failure', () => {
    const unreadable: SourceCheckResult = { source: 'ops', dir: 'eventops', kind: 'failed', reason: 'AuthenticationFailed', message: 'fetch https://git.example/acme/ops.git: HTTP 401', blocking: false };
    expect(definitionsCheckOutput({ sha: SHA, results: [unreadable] })).toMatchObject({ conclusion: 'neutral', title: 'Could not check source ops: AuthenticationFailed' });
    const gone: SourceCheckResult = { ...unreadable, reason: 'DirNotFound', message: "folder 'eventops' does not exist", blocking: true };
    const out = definitionsCheckOutput({ sha: SHA, results: [gone, checked()] });
    expect(out.conclusion).toBe('failure');
    expect(out.summary).toContain("❌ This commit breaks the source: **DirNotFound**: folder 'eventops' does not exist");
  });

  it('two sources over one folder: a finding is annotated once; more than the cap are cut and said so', () => {
    const d = diag();
    const twice = definitionsCheckOutput({ sha: SHA, results: [checked({ diagnostics: [d], errors: 1 }), checked({ source: 'ops2', diagnostics: [d], errors: 1 })] });
    expect(twice.annotations).toHaveLength(1);
    const many = Array.from({ length: MAX_DEFINITION_ANNOTATIONS + 5 }, (_, i) => diag({ line: i + 1 }));
    const out = definitionsCheckOutput({ sha: SHA, results: [checked({ diagnostics: many, errors: many.length })] });
    expect(out.annotations).toHaveLength(MAX_DEFINITION_ANNOTATIONS);
    expect(out.summary).toContain(`Only the first ${MAX_DEFINITION_ANNOTATIONS} of ${many.length} findings are shown as annotations.`);
  });

  it('the summary stays within the limit, cut at a line with a note; the title within 255', () => {
    const many = Array.from({ length: 3000 }, (_, i) => diag({ line: i + 1, message: `problem number ${i} `.repeat(3) }));
    const out = definitionsCheckOutput({ sha: SHA, results: [checked({ diagnostics: many, errors: many.length })] });
    expect(out.summary.length).toBeLessThanOrEqual(65_535);
    expect(out.summary.length).toBeGreaterThan(60_000);
    expect(out.summary).toMatch(/… \d+ more lines left out to fit GitHub's 65,535-character limit\.$/);
    const small = definitionsCheckOutput({ sha: SHA, results: [checked({ diagnostics: many, errors: many.length })] }, 2_000);
    expect(small.summary.length).toBeLessThanOrEqual(2_000);
    const long = definitionsCheckOutput({ sha: SHA, results: [{ source: 'ops', dir: '', kind: 'failed', reason: 'DirNotFound', message: 'x'.repeat(1000), blocking: true }] });
    expect(long.title.length).toBe(255);
  });

  it('a table cell cannot be broken by a | or a newline in a message', () => {
    const out = definitionsCheckOutput({ sha: SHA, results: [checked({ diagnostics: [diag({ message: 'a | b\nc' })], errors: 1 })] });
    expect(out.summary).toContain('| a \\| b c |');
  });
});
