// What counts as a credential written into a definition.
import { describe, expect, it } from 'vitest';
import { secretLike } from './index.js';

describe('secretLike', () => {
  it('finds credentials by their shape, wherever they are', () => {
    expect(secretLike('script', '-----BEGIN RSA PRIVATE KEY-----\nMIIE')).toBe('a private key block');
    expect(secretLike(0, 'curl -H "Authorization: token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"')).toBe('a GitHub token');
    expect(secretLike('id', 'AKIAIOSFODNN7EXAMPLE')).toBe('an AWS access key id');
    expect(secretLike(0, 'mysql --password=s3cr3tpw db')).toBe('a password written in a command');
    expect(secretLike(0, 'export password=s3cr3tpw')).toBe('a password written in a command');
    expect(secretLike('url', 'https://deploy:s3cr3tpw@git.internal/repo.git')).toBe('a password written in a URL');
    expect(secretLike('ca', Buffer.from('-----BEGIN CERTIFICATE-----\nMIIC0123456789abcdefghij').toString('base64'))).toBeUndefined();
    expect(secretLike('data', `client-key-data: ${Buffer.from('-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA').toString('base64')}`)).toBe('a base64-encoded key or certificate block');
  });

  it('finds literal values under credential-like keys, but not references to them', () => {
    expect(secretLike('DB_PASSWORD', 'hunter2')).toBe('a literal value under `DB_PASSWORD`');
    expect(secretLike('apiToken', 'abc123')).toBe('a literal value under `apiToken`');
    expect(secretLike('DB_PASSWORD', '${{ inputs.pw }}')).toBeUndefined();
    expect(secretLike('DB_PASSWORD', '$DB_PASSWORD')).toBeUndefined();
    expect(secretLike('TOKEN', '/run/secrets/token')).toBeUndefined();
    expect(secretLike('KUBE_SECRET', 'app-db-credentials')).toBeUndefined();
    expect(secretLike('TOKEN_URL', 'https://auth.internal/token')).toBeUndefined();
    expect(secretLike('image', 'registry.internal/app:1.2')).toBeUndefined();
    expect(secretLike(0, 'mysql --password="$DB_PASSWORD" db')).toBeUndefined();
    expect(secretLike('url', 'https://registry.internal:5000/v2/')).toBeUndefined();
  });
});

describe('a literal where a secret reference belongs', () => {
  it('is reported without quoting the value (it may be the secret itself)', async () => {
    const { validateFiles } = await import('./index.js');
    const text = ['apiVersion: eventops.dev/v1', 'kind: Actuator', 'metadata: { name: h }', 'spec:', '  ssh: { host: 10.0.0.5, user: deploy, password: "hunter2hunter2", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl" }', ''].join('\n');
    const messages = validateFiles([{ path: 'a.yaml', text }]).diagnostics.map((d) => `${d.rule}: ${d.message}`);
    expect(messages).toContain('schema: `spec.ssh.password` must be a secret reference `{ secret: NAME }`, not a string (not shown: it may be the secret itself)');
    expect(messages.join('\n')).not.toContain('hunter2');
  });
});
