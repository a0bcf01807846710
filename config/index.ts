// eventops.yaml: the one configuration schema, loading with environment overrides, and the
// secret store that resolves secret references by name.
export { loadConfig, ConfigError, type Config, type SourceConfig, type ReceiverConfig, type LoadConfigOptions } from './load-config.js';
export { ConfigSchema, type RawConfig } from './config-schema.js';
export { createSecretStore, type SecretStore } from './secret-store.js';
export { DEFAULT_LIMITS, parseByteSize, type Limits } from './limits.js';
