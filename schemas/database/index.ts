// Where eventops keeps its state: the tables, their migrations and opening the database.
export * from './tables.js';
export { openDatabase, migrationsFolder, lockKey, type Database, type Db, type Tables, type OpenDatabaseOptions } from './open-database.js';
