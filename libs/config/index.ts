export { loadConfig, loadConfigOrExit, ConfigError, LOCAL_MODE_ACCOUNTS, type ConfigProblem } from './load-config';
export { envSchema, fileSchema, type JibeConfig } from './config.schema';
export {
  accountSchema,
  accountsSchema,
  namespaceAllowed,
  type AccountConfig,
  type AccountKind,
} from './accounts.schema';
export { ConfigModule, JIBE_CONFIG } from './config.module';
export { loggerOptions, REDACTED_PATHS } from './logger-options';
export { JIBE_VERSION } from './version';
