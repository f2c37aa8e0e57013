export { RunService, type RunOptions } from './service.js';
export { loadConfig, parseConfig, configSchema, ConfigError, ENV_SETTINGS, type RunConfig, type KafkaConfig } from './config.js';
export { RunMetrics } from './metrics.js';
export { Router, type Route, type Offer, type RejectReason } from './route.js';
