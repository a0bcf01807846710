// drizzle-kit settings: `npm run db:generate` writes a new migration from schemas/database/tables.ts.
import { defineConfig } from 'drizzle-kit';

// drizzle-kit reads the default export of this file; nothing in the project imports it.
// eslint-disable-next-line no-restricted-syntax
export default defineConfig({
  dialect: 'postgresql',
  schema: './schemas/database/tables.ts',
  out: './schemas/database/migrations',
});
