// Builds the DefinitionSource for a configured source: a git repository (its token resolved
// from the secret store now, never stored) or a local folder.
import { join } from 'node:path';
import type { Limits, SecretStore, SourceConfig } from '../config/index.js';
import { SourceError } from './errors.js';
import { createGitSource } from './sources/git-source.js';
import { createLocalSource } from './sources/local-source.js';
import type { DefinitionSource } from './sources/source.js';

/**
 * Throws a stalling SourceError when the token's secret is missing. Secret values it resolves
 * are pushed to `secretValues`, so every message about this source can be scrubbed of them.
 * `gitLimits` bound each git fetch (default DEFAULT_LIMITS.git).
 */
export function openSource(config: SourceConfig, dataDir: string, secrets: SecretStore, secretValues: string[], gitLimits?: Limits['git']): DefinitionSource {
  if (config.type === 'local') {
    return createLocalSource({ name: config.name, path: config.path as string, dir: config.dir, ignore: config.ignore });
  }
  let token: string | undefined;
  if (config.tokenSecret) {
    token = secrets.get(config.tokenSecret);
    if (token === undefined) {
      throw new SourceError(
        'stalling',
        'SecretNotFound',
        `secret ${config.tokenSecret} (auth.token of source ${config.name}) is not set: set EVENTOPS_SECRET_${config.tokenSecret.toUpperCase()} or add a file ${config.tokenSecret} to secrets.dir`,
      );
    }
    secretValues.push(token);
  }
  return createGitSource({
    name: config.name,
    url: config.url as string,
    ...(config.ref ? { ref: config.ref } : {}),
    dir: config.dir,
    ignore: config.ignore,
    ...(token ? { token } : {}),
    cacheDir: join(dataDir, 'cache', 'git', config.name),
    timeoutMs: config.timeoutMs,
    ...(gitLimits ? { limits: gitLimits } : {}),
  });
}
