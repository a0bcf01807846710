// Pinned SSH host keys: the `type base64` line an actuator gives as `hostKey`, the key types
// ssh2 can verify, and the SHA256 fingerprints (as `ssh-keygen -l` prints them) shown when a
// server offers another key.
import { createHash } from 'node:crypto';
import type { ServerHostKeyAlgorithm } from 'ssh2';

/** Host key types ssh2 can verify, and the algorithms that use each. */
export const HOST_KEY_ALGORITHMS: Record<string, ServerHostKeyAlgorithm[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export interface PinnedKey {
  type: string;
  blob: Buffer;
}

/** The type and key blob of a `type base64 [comment]` line (a leading known_hosts host field is allowed); throws saying what is wrong. */
export function parseHostKey(line: string, where: string): PinnedKey {
  const fields = line.trim().split(/\s+/);
  const at = fields.findIndex((field) => Object.hasOwn(HOST_KEY_ALGORITHMS, field));
  const problem = (why: string) => new Error(`ssh actuator ${where}: the hostKey "${line.slice(0, 120)}" ${why}; give the server's public key as one line "ssh-ed25519 AAAA…" (from ssh-keyscan, or /etc/ssh/ssh_host_ed25519_key.pub on the host)`);
  if (at === -1 || at > 1 || fields[0]?.startsWith('@')) throw problem(`is not a public key of a supported type (${Object.keys(HOST_KEY_ALGORITHMS).join(', ')})`);
  const type = fields[at]!;
  const data = fields[at + 1] ?? '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw problem('has no base64 key data after its type');
  const blob = Buffer.from(data, 'base64');
  if (blobType(blob) !== type) throw problem(`holds key data that is not a ${type} key`);
  return { type, blob };
}

/** The key type written at the start of an SSH public key blob. */
export function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length > 64 || blob.length < 4 + length) return undefined;
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** `SHA256:…` as `ssh-keygen -l` prints it. */
function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function describeKey(blob: Buffer): string {
  return `${blobType(blob) ?? 'an unknown key type'} ${fingerprint(blob)}`;
}
