// A docker task without `commands` runs its image as built, as `docker run IMAGE` (and Tekton or
// Argo) would: the image's own ENTRYPOINT and CMD, its WORKDIR and USER, and no shell needed in
// the image. Unlike the wrapper mode, the task's env (secrets included) must then be in the
// container's Env, like `docker run -e`, since nothing else can hand it to the program.
//
// `$EVENTOPS_OUTPUT` is `/.eventops/output`: a folder made in the created container before its
// start (put there as a tar archive, since the image may have no shell nor /tmp), owned by the
// user the image runs as, so a non-root program can write it. A dotted name, so it does not clash
// with a folder the image has. After the exit, the file is copied out of the stopped container and
// read with the same parser as every other runner's outputs file.
import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import type { TaskExecution } from './runner.js';
import { readContainerFile } from './docker-archive.js';
import { collectOutputs, type OutputsRead, type RawValue } from './read-outputs.js';
import { VARIABLE_NAME } from './task-script.js';

export const PLAIN_OUTPUT_FOLDER = '/.eventops';
export const PLAIN_OUTPUT_FILE = `${PLAIN_OUTPUT_FOLDER}/output`;

/** The largest /etc/passwd or /etc/group read to find the image's user. */
const MAX_ACCOUNT_FILE_BYTES = 1024 * 1024;

/** Why a task without `commands` cannot run as given, else undefined. */
export function plainProblem(execution: TaskExecution): string | undefined {
  const captured = execution.outputs.find((o) => o.fromEnv !== undefined || o.fromFile !== undefined);
  if (captured) {
    const field = captured.fromEnv !== undefined ? 'fromEnv' : 'fromFile';
    return `output "${captured.name}": \`${field}\` needs \`commands\`: a task without \`commands\` runs its image as built, and its outputs come only from name=value lines written to $EVENTOPS_OUTPUT; add \`commands\`, or have the image write "${captured.name}=VALUE" to $EVENTOPS_OUTPUT and drop \`${field}\``;
  }
  const badEnv = Object.keys(execution.env).find((name) => !VARIABLE_NAME.test(name));
  if (badEnv !== undefined) return `env "${badEnv}" is not a variable name (letters, digits and _, not starting with a digit)`;
  return undefined;
}

/** Undefined when the image has something to run, else what to do about it. */
export function plainImageProblem(image: string, info: Docker.ImageInspectInfo): string | undefined {
  const config = info.Config as { Entrypoint?: string[] | string | null; Cmd?: string[] | null } | undefined;
  const entrypoint = config?.Entrypoint;
  const hasEntrypoint = Array.isArray(entrypoint) ? entrypoint.length > 0 : typeof entrypoint === 'string' && entrypoint !== '';
  if (hasEntrypoint || (config?.Cmd?.length ?? 0) > 0) return undefined;
  return `the image "${image}" has neither ENTRYPOINT nor CMD, so a task without \`commands\` has nothing to run: give the task \`commands\`, or use an image built with an ENTRYPOINT or CMD`;
}

/** The container's Env: the task's env, then the variables eventops sets (they win over a task's own of the same name). */
export function plainEnv(execution: TaskExecution): string[] {
  const env = new Map(Object.entries(execution.env));
  env.set('EVENTOPS_RUN_ID', execution.runId);
  env.set('EVENTOPS_TASK', execution.task);
  env.set('EVENTOPS_ATTEMPT', String(execution.attempt));
  env.set('EVENTOPS_OUTPUT', PLAIN_OUTPUT_FILE);
  return [...env].map(([name, value]) => `${name}=${value}`);
}

/**
 * Puts the outputs folder and its empty file into the created (not yet started) container, owned
 * by the user it will run as. When that user cannot be found in the image's /etc/passwd (Docker
 * will then refuse to start it anyway), the folder is left writable by anyone instead.
 */
export async function putOutputFolder(container: Docker.Container, signal?: AbortSignal): Promise<void> {
  const user = ((await container.inspect(signal ? { abortSignal: signal } : {})).Config.User ?? '').trim();
  const owner = await resolveUser(container, user, signal);
  const tar = pack();
  const folder = PLAIN_OUTPUT_FOLDER.slice(1);
  const ids = owner ?? { uid: 0, gid: 0 };
  tar.entry({ name: `${folder}/`, type: 'directory', mode: owner ? 0o700 : 0o1777, ...ids });
  tar.entry({ name: `${folder}/output`, mode: owner ? 0o600 : 0o666, ...ids }, '');
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar) chunks.push(chunk as Buffer);
  await container.putArchive(Buffer.concat(chunks), { path: '/', ...(signal ? { abortSignal: signal } : {}) });
}

/** The outputs of a task that exited 0: the `name=value` lines of its `$EVENTOPS_OUTPUT` (none when the file is gone). */
export async function readPlainOutputs(container: Docker.Container, execution: TaskExecution, maxBytes: number, signal?: AbortSignal): Promise<OutputsRead> {
  // Declared fromEnv/fromFile outputs were refused before the start (plainProblem): nothing else to read.
  const none = async (): Promise<RawValue> => ({ kind: 'missing' });
  return collectOutputs(execution.outputs, { outputFile: (max) => readContainerFile(container, PLAIN_OUTPUT_FILE, max, signal), capture: none, file: none }, maxBytes);
}

/**
 * The uid and gid of Docker's `USER` value (`name`, `uid`, `name:group`, `uid:gid`…; empty is
 * root), looking names up in the image's /etc/passwd and /etc/group as Docker does; undefined
 * when a name is not there. A user without a group gets its passwd entry's group, else 0.
 */
async function resolveUser(container: Docker.Container, user: string, signal?: AbortSignal): Promise<{ uid: number; gid: number } | undefined> {
  if (user === '') return { uid: 0, gid: 0 };
  const [userPart = '', groupPart] = user.split(':', 2);
  const numeric = (text: string) => (/^\d+$/.test(text) ? Number(text) : undefined);
  let passwd: string[][] | undefined;
  const accounts = async (path: string) => {
    const read = await readContainerFile(container, path, MAX_ACCOUNT_FILE_BYTES, signal);
    return read.kind === 'read' ? read.bytes.toString('utf8').split('\n').map((line) => line.split(':')) : [];
  };
  const passwdEntry = async () => {
    passwd ??= await accounts('/etc/passwd');
    const uidNumber = numeric(userPart);
    return passwd.find((fields) => (uidNumber === undefined ? fields[0] === userPart : numeric(fields[2] ?? '') === uidNumber));
  };
  let uid = numeric(userPart);
  let entry: string[] | undefined;
  if (uid === undefined) {
    entry = await passwdEntry();
    uid = entry === undefined ? undefined : numeric(entry[2] ?? '');
    if (uid === undefined) return undefined;
  }
  if (groupPart === undefined || groupPart === '') {
    entry ??= await passwdEntry();
    return { uid, gid: numeric(entry?.[3] ?? '') ?? 0 };
  }
  const gid = numeric(groupPart) ?? numeric((await accounts('/etc/group')).find((fields) => fields[0] === groupPart)?.[2] ?? '');
  return gid === undefined ? undefined : { uid, gid };
}
