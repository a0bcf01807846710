// Where eventops keeps its state: the tables, their migrations and opening the database.
export * from './tables.js';
export { lockKey } from './lock-key.js';
export type { Campaign, CampaignOptions } from './leadership.js';
export { openDatabase, migrationsFolder, type Database, type Db, type Tables, type OpenDatabaseOptions } from './open-database.js';
export { lockFolder, FolderInUseError, type FolderLockOptions } from './folder-lock.js';
export { secureFolder, type SecuredFolder } from './secure-folder.js';
