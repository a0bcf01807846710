// Test settings: one global setup that makes sure PostgreSQL is reachable; tests that start
// real servers get more time than vitest's default.
import { defineConfig } from 'vitest/config';

// vitest reads the default export of this file.
// eslint-disable-next-line no-restricted-syntax
export default defineConfig({
  test: {
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    exclude: ['**/node_modules/**', '**/dist/**', '**/.eventops/**'],
  },
});
