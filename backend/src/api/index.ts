export { buildServer } from './server.js';
export { DEFAULT_PORT, DEFAULT_BODY_LIMIT, type ApiOptions } from './options.js';
