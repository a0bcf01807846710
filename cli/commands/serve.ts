// `eventops serve`: loads eventops.yaml, starts the reconciler and the HTTP server, and runs
// until SIGINT or SIGTERM, then shuts down in order (HTTP, reconciles in progress, database).
import { ConfigError, loadConfig } from '../../config/index.js';
import { UsageError, type Io } from '../output.js';
import { startServer } from '../start-server.js';

export interface ServeOptions {
  config?: string;
  port?: string;
}

export async function serveCommand(options: ServeOptions, io: Io): Promise<number> {
  const env = io.env ?? process.env;
  let config;
  try {
    config = loadConfig({ ...(options.config ? { file: options.config } : {}), cwd: io.cwd, env });
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`invalid configuration:\n${error.message}`);
    throw error;
  }
  if (options.port !== undefined) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number (got ${JSON.stringify(options.port)})`);
    config = { ...config, server: { ...config.server, port } };
  }
  if (config.sources.length === 0) {
    io.err('eventops: no sources configured; add `sources:` to eventops.yaml (see docs/configuration.md)\n');
  }
  const server = await startServer(config, { env });
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  server.logger.info('shutting down');
  await server.close();
  return 0;
}
