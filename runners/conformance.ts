// The behaviour every runner must show, whatever runs the script (a local shell, SSH, a
// container, a pod, an agent): exit codes, lines and their order, environment, outputs, data that
// stays data, large and unicode output, timeout, cancel and secret masking. Each adapter's test
// file calls `runnerConformance` with a setup that builds it. Commands use POSIX sh only.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLine, Runner, TaskExecution, TaskResult } from './runner.js';

interface Attempt {
  result: TaskResult;
  lines: LogLine[];
  stdout: string[];
  stderr: string[];
  system: string[];
  ms: number;
}

type Setup = () => Promise<{ runner: Runner; cleanup(): Promise<void> }>;

/** Declares `describe('<name> runner conformance')`; `setup` runs once before its cases, `cleanup` once after. */
export function runnerConformance(name: string, setup: Setup): void {
  describe(`${name} runner conformance`, () => {
    let runner: Runner;
    let cleanup: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const made = await setup();
      runner = made.runner;
      cleanup = made.cleanup;
    });
    afterAll(async () => {
      await cleanup?.();
    });

    const run = async (execution: Partial<TaskExecution>, options: { signal?: AbortSignal; onLine?: (line: LogLine) => void } = {}): Promise<Attempt> => {
      const lines: LogLine[] = [];
      const started = Date.now();
      const result = await runner.run(
        { runId: randomUUID(), task: 'conformance', attempt: 1, commands: [], env: {}, outputs: [], secrets: [], ...execution },
        {
          signal: options.signal ?? new AbortController().signal,
          onLine: (line) => {
            lines.push(line);
            options.onLine?.(line);
          },
        },
      );
      const of = (stream: LogLine['stream']) => lines.filter((l) => l.stream === stream).map((l) => l.text);
      return { result, lines, stdout: of('stdout'), stderr: of('stderr'), system: of('system'), ms: Date.now() - started };
    };

    it('reports exit code 0 as succeeded', async () => {
      const { result } = await run({ commands: ['true'] });
      expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: {} });
    });

    it('reports a non-zero exit code as failed, with the code', async () => {
      const { result } = await run({ commands: ['exit 3'] });
      expect(result).toMatchObject({ status: 'failed', exitCode: 3, error: 'exit code 3' });
    });

    it('stops at the first failing command', async () => {
      const { result, stdout } = await run({ commands: ['echo before', 'false', 'echo after'] });
      expect(result).toMatchObject({ status: 'failed', exitCode: 1 });
      expect(stdout).toEqual(['before']);
      expect(stdout.join('\n')).not.toContain('after');
    });

    it('reports stdout and stderr lines, each stream in order', async () => {
      const { stdout, stderr, lines } = await run({ commands: ['echo one', 'echo uno >&2', 'echo two', 'echo dos >&2', 'echo three', "printf 'CRLF line\\r\\n'", "printf 'no newline at the end'"] });
      expect(stdout).toEqual(['one', 'two', 'three', 'CRLF line', 'no newline at the end']);
      expect(stderr).toEqual(['uno', 'dos']);
      for (const line of lines) expect(line.at).toBeGreaterThan(Date.now() - 60_000);
    });

    it('gives the script its env and the EVENTOPS_* variables, in a fresh work folder', async () => {
      const runId = randomUUID();
      const { result, stdout } = await run({
        runId,
        task: 'env-check',
        attempt: 2,
        env: { GREETING: 'hello there', EMPTY: '' },
        commands: [
          'echo "greeting=$GREETING"',
          'echo "empty=[${EMPTY-unset}]"',
          'echo "run=$EVENTOPS_RUN_ID task=$EVENTOPS_TASK attempt=$EVENTOPS_ATTEMPT"',
          '[ "$(pwd -P)" = "$(cd "$EVENTOPS_WORKSPACE" && pwd -P)" ] && echo "starts in the workspace"',
          'echo "entries: $(ls -A | wc -l | tr -d " ")"',
          'case "$EVENTOPS_OUTPUT" in "$EVENTOPS_WORKSPACE"/*) echo "output file inside";; *) echo "output file outside";; esac',
          'touch scratch',
        ],
      });
      expect(result.status).toBe('succeeded');
      expect(stdout).toEqual(['greeting=hello there', 'empty=[]', `run=${runId} task=env-check attempt=2`, 'starts in the workspace', 'entries: 0', 'output file outside']);
    });

    it('starts in workdir, a folder it creates inside the work folder', async () => {
      const { result, stdout } = await run({ workdir: 'sub/dir', commands: ['case "$(pwd -P)" in "$(cd "$EVENTOPS_WORKSPACE" && pwd -P)/sub/dir") echo inside;; *) echo "elsewhere: $(pwd)";; esac'] });
      expect(result.status).toBe('succeeded');
      expect(stdout).toEqual(['inside']);
    });

    it('refuses a workdir leading out of the work folder', async () => {
      const { result, stdout } = await run({ workdir: '../../escaped', commands: ['echo ran'] });
      expect(result).toMatchObject({ status: 'failed', exitCode: null });
      expect(result.error).toContain('workdir');
      expect(stdout).toEqual([]);
    });

    it('reads outputs from a variable, a file and $EVENTOPS_OUTPUT, multi-line ones included', async () => {
      const { result } = await run({
        commands: [
          'export VERSION=1.2.3',
          'NOT_EXPORTED="two\nlines"',
          "printf 'report line 1\\nreport line 2\\n' > report.txt",
          'mkdir -p out && printf "x" > out/no-newline.txt',
          'echo "sha=abc123" >> "$EVENTOPS_OUTPUT"',
          'echo "equation=a=b" >> "$EVENTOPS_OUTPUT"',
          '{ echo "notes<<EOF"; echo "first"; echo ""; echo "third"; echo "EOF"; } >> "$EVENTOPS_OUTPUT"',
        ],
        outputs: [
          { name: 'version', fromEnv: 'VERSION' },
          { name: 'plain', fromEnv: 'NOT_EXPORTED' },
          { name: 'unset', fromEnv: 'NEVER_SET' },
          { name: 'report', fromFile: 'report.txt' },
          { name: 'bare', fromFile: 'out/no-newline.txt' },
        ],
      });
      expect(result).toEqual({
        status: 'succeeded',
        exitCode: 0,
        outputs: { version: '1.2.3', plain: 'two\nlines', unset: '', report: 'report line 1\nreport line 2', bare: 'x', sha: 'abc123', equation: 'a=b', notes: 'first\n\nthird' },
      });
    });

    it('reads outputs with workdir set, fromFile still relative to the work folder', async () => {
      const { result } = await run({ workdir: 'src', commands: ['echo built > ../artifact.txt'], outputs: [{ name: 'artifact', fromFile: 'artifact.txt' }] });
      expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { artifact: 'built' } });
    });

    it('fails when a fromFile output is missing, naming the output and the file', async () => {
      const { result } = await run({ commands: ['true'], outputs: [{ name: 'report', fromFile: 'missing/report.json' }] });
      expect(result.status).toBe('failed');
      expect(result.error).toContain('report');
      expect(result.error).toContain('missing/report.json');
    });

    it('refuses a fromFile output outside the work folder', async () => {
      const { result } = await run({ commands: ['true'], outputs: [{ name: 'passwd', fromFile: '../../../../../../etc/passwd' }] });
      expect(result.status).toBe('failed');
      expect(result.error).toContain('passwd');
    });

    it('reads no outputs when the commands fail', async () => {
      const { result } = await run({ commands: ['export VERSION=1', 'echo "sha=abc" >> "$EVENTOPS_OUTPUT"', 'exit 4'], outputs: [{ name: 'version', fromEnv: 'VERSION' }] });
      expect(result).toMatchObject({ status: 'failed', exitCode: 4, outputs: {} });
    });

    it('treats values as data: a command substitution in env is printed, never run', async () => {
      const payloads = ['$(touch "$EVENTOPS_WORKSPACE/injected")', '`touch "$EVENTOPS_WORKSPACE/injected"`', "'; touch \"$EVENTOPS_WORKSPACE/injected\"; '"];
      for (const payload of payloads) {
        const { result, stdout } = await run({
          env: { TITLE: payload },
          commands: ['echo "$TITLE"', 'printf "%s\\n" $TITLE >/dev/null', 'if [ -e "$EVENTOPS_WORKSPACE/injected" ]; then echo INJECTED; else echo clean; fi'],
          outputs: [{ name: 'title', fromEnv: 'TITLE' }],
        });
        expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { title: payload } });
        expect(stdout).toEqual([payload, 'clean']);
      }
    });

    it('delivers large output whole and in order', async () => {
      const { result, stdout } = await run({ commands: ['i=1', 'while [ "$i" -le 20000 ]; do echo "line $i"; i=$((i + 1)); done'] });
      expect(result.status).toBe('succeeded');
      expect(stdout).toHaveLength(20_000);
      expect(stdout.every((text, i) => text === `line ${i + 1}`)).toBe(true);
    });

    it('delivers a very long line whole (possibly in pieces), then the next line', async () => {
      const { result, stdout } = await run({ commands: ['printf "%0200000d\\n" 0', 'echo next'] });
      expect(result.status).toBe('succeeded');
      expect(stdout.at(-1)).toBe('next');
      expect(stdout.slice(0, -1).join('')).toBe('0'.repeat(200_000));
    });

    it('keeps unicode intact in lines, env and outputs', async () => {
      const text = 'héllo 世界 🚀';
      const { result, stdout } = await run({ env: { TEXT: text }, commands: [`echo '${text}'`, 'echo "$TEXT" >&2', 'echo "$TEXT"', 'echo "out=$TEXT" >> "$EVENTOPS_OUTPUT"'], outputs: [{ name: 'env', fromEnv: 'TEXT' }] });
      expect(stdout).toEqual([text, text]);
      expect(result).toEqual({ status: 'succeeded', exitCode: 0, outputs: { env: text, out: text } });
    });

    it('stops a task that runs past its timeout', async () => {
      const { result, stdout, system, ms } = await run({ timeoutMs: 500, commands: ['echo started', 'sleep 30', 'echo never'] });
      expect(result).toMatchObject({ status: 'timed_out', exitCode: null });
      expect(result.error).toMatch(/timed out/);
      expect(stdout).toEqual(['started']);
      expect(system.length).toBeGreaterThan(0);
      expect(ms).toBeLessThan(10_000);
    });

    it('stops a task cancelled while it runs', async () => {
      const abort = new AbortController();
      const { result, stdout, system, ms } = await run({ commands: ['echo started', 'sleep 30', 'echo never'] }, { signal: abort.signal, onLine: (line) => line.text === 'started' && abort.abort() });
      expect(result).toMatchObject({ status: 'cancelled', exitCode: null, error: 'cancelled' });
      expect(stdout).toEqual(['started']);
      expect(system.join('\n')).toContain('cancel');
      expect(ms).toBeLessThan(10_000);
    });

    it('does not start a task cancelled before it starts', async () => {
      const abort = new AbortController();
      abort.abort();
      const { result, stdout } = await run({ commands: ['echo ran'] }, { signal: abort.signal });
      expect(result).toMatchObject({ status: 'cancelled', exitCode: null });
      expect(stdout).toEqual([]);
    });

    it('masks secrets in every line, multi-line secrets line by line', async () => {
      const token = "s3cr3t-T0ken'$x";
      const key = 'KEY-LINE-ONE\nKEY-LINE-TWO';
      const { result, lines, stdout, stderr } = await run({
        env: { TOKEN: token, KEY: key },
        secrets: [token, key],
        commands: ['echo "token is $TOKEN"', 'echo "$TOKEN" >&2', 'echo "$KEY"', 'echo "twice: $TOKEN$TOKEN."'],
      });
      expect(result.status).toBe('succeeded');
      expect(stdout).toEqual(['token is ***', '***', '***', 'twice: ******.']);
      expect(stderr).toEqual(['***']);
      for (const line of lines) {
        expect(line.text).not.toContain('s3cr3t');
        expect(line.text).not.toContain('KEY-LINE');
      }
    });

    it('masks a secret that straddles the cut of a long line (64 KiB), in no piece half shown', async () => {
      const token = 'S3CRET-straddling-the-cut-0123456789';
      // 65,520 zeros then the secret: the line is cut at 65,536 bytes, inside the secret.
      const { result, stdout } = await run({ env: { TOKEN: token }, secrets: [token], commands: ['printf "%065520d" 0', 'printf "%s-after\\n" "$TOKEN"', 'echo next'] });
      expect(result.status).toBe('succeeded');
      for (const text of stdout) {
        expect(text).not.toContain('S3CRET');
        expect(text).not.toContain('0123456789');
        expect(Buffer.byteLength(text)).toBeLessThanOrEqual(64 * 1024 + token.length);
      }
      expect(stdout.at(-1)).toBe('next');
      expect(stdout.slice(0, -1).join('')).toBe(`${'0'.repeat(65_520)}***-after`);
    });

    it('masks secrets in the error of a failed attempt', async () => {
      const { result } = await run({ secrets: ['hidden-name'], commands: ['true'], outputs: [{ name: 'x', fromFile: 'hidden-name.txt' }] });
      expect(result.status).toBe('failed');
      expect(result.error).not.toContain('hidden-name');
      expect(result.error).toContain('***');
    });

    it('runs attempts side by side without mixing them', async () => {
      const runId = randomUUID();
      const attempts = await Promise.all(['a', 'b', 'c'].map((task) => run({ runId, task, env: { WHO: task }, commands: ['sleep 1', 'echo "$WHO" > who.txt', 'echo "i am $WHO"'], outputs: [{ name: 'who', fromFile: 'who.txt' }] })));
      expect(attempts.map((a) => [a.result.outputs, a.stdout])).toEqual([
        [{ who: 'a' }, ['i am a']],
        [{ who: 'b' }, ['i am b']],
        [{ who: 'c' }, ['i am c']],
      ]);
    });
  });
}
