// Secrets by name, resolved when needed and never kept in the configuration: the environment
// (`EVENTOPS_SECRET_<NAME>`, the name upper-cased) first, then a mounted folder with one file per
// secret (Kubernetes-style), trailing newline trimmed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SecretStore {
  /** The secret's value, or undefined when no backend has it. */
  get(name: string): string | undefined;
}

export function createSecretStore(options: { env?: Record<string, string | undefined>; dir?: string } = {}): SecretStore {
  const env = options.env ?? process.env;
  return {
    get(name) {
      const fromEnv = env[`EVENTOPS_SECRET_${name.toUpperCase()}`];
      if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
      if (!options.dir || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return undefined;
      try {
        return readFileSync(join(options.dir, name), 'utf8').replace(/\r?\n$/, '');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new Error(`cannot read secret ${name} from ${options.dir}: ${(error as Error).message}`, { cause: error });
      }
    },
  };
}
