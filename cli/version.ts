// The version eventops reports (`--version`, the API).
export const VERSION = '0.1.0';
