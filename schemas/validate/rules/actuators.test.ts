// The actuator-connection rule for an ssh actuator's passphrase: it decrypts a private key, so it
// is valid only next to `privateKey`.
import { describe, expect, it } from 'vitest';
import { validateFiles } from '../index.js';

/** The findings for one ssh actuator whose `ssh:` block is `ssh` (flow YAML), as `line rule: message`. */
function findings(ssh: string): string[] {
  const text = `apiVersion: eventops.dev/v1
kind: Actuator
metadata: { name: build-host }
spec:
  ssh: ${ssh}
`;
  return validateFiles([{ path: 'a.yaml', text }]).diagnostics.map((d) => `${d.line}:${d.column} ${d.rule}: ${d.message}`);
}

const hostKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKQ3d5vUWgS2nUTHcKlcrAwHw0ukqbUfJ6cJZBUbHZ6Y';

describe('ssh actuator passphrase', () => {
  it('is valid with a private key', () => {
    expect(findings(`{ host: h, user: u, privateKey: { secret: KEY }, passphrase: { secret: KEY_PASSPHRASE }, hostKey: "${hostKey}" }`)).toEqual([]);
  });

  it('is reported, at its key, without a private key', () => {
    expect(findings(`{ host: h, user: u, password: { secret: PW }, passphrase: { secret: KEY_PASSPHRASE }, hostKey: "${hostKey}" }`)).toEqual([
      '5:54 actuator-connection: a `passphrase` decrypts a `privateKey`, and this ssh actuator has none; add `privateKey: { secret: NAME }` or remove `passphrase`',
    ]);
  });

  it('is a secret reference: a literal value there is a secret-literal error', () => {
    expect(findings(`{ host: h, user: u, privateKey: { secret: KEY }, passphrase: "hunter2hunter2", hostKey: "${hostKey}" }`).map((f) => f.split(': ')[0])).toEqual(['5:69 schema', '5:69 secret-literal']);
  });
});
