// How an ssh actuator's spec becomes the SSH runner's options: each secret reference resolved
// through the source's secrets, the passphrase of an encrypted key among them.
import { describe, expect, it } from 'vitest';
import { createAgentHub } from '../runners/index.js';
import type { Actuator } from '../schemas/index.js';
import { runnerKinds } from './runner-kinds.js';

describe('runnerKinds ssh', () => {
  it('resolves privateKey, passphrase and password to their secrets, and gives no passphrase when none is named', () => {
    const kinds = runnerKinds({ workRoot: '/nonexistent', workerId: 'test', agents: createAgentHub() });
    const ssh = kinds.ssh as unknown as { settings(spec: Actuator['spec'], secret: (name: string) => string): Record<string, unknown> };
    const values: Record<string, string> = { KEY: 'the-key', KEY_PASSPHRASE: 'the-passphrase', PW: 'the-password' };
    const secret = (name: string) => values[name] ?? `unknown secret ${name}`;
    const spec = { ssh: { host: 'h', user: 'u', privateKey: { secret: 'KEY' }, passphrase: { secret: 'KEY_PASSPHRASE' }, hostKey: 'ssh-ed25519 AAAA' } };
    expect(ssh.settings(spec, secret)).toEqual({ host: 'h', user: 'u', privateKey: 'the-key', passphrase: 'the-passphrase', hostKey: 'ssh-ed25519 AAAA' });
    expect(ssh.settings({ ssh: { host: 'h', user: 'u', password: { secret: 'PW' } } }, secret)).toEqual({ host: 'h', user: 'u', password: 'the-password' });
  });
});
