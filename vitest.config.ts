// Test settings: one global setup that makes sure PostgreSQL is reachable; tests that start
// real servers get more time than vitest's default.
import { defineConfig } from 'vitest/config';

// vitest reads the default export of this file.
// eslint-disable-next-line no-restricted-syntax
export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    // Most test files wait on real servers (PostgreSQL, Redis, sshd, dockerd, eventops processes),
    // not on the CPU: three files at once on a 2-core machine take the suite from 11 to 5.5
    // minutes (vitest's default is one fewer than the cores: one file at a time here).
    maxWorkers: 3,
    hookTimeout: 60_000,
    exclude: ['**/node_modules/**', '**/dist/**', '**/.eventops/**'],
  },
});
