import { parseArgs } from 'node:util';
import { ConfigError, ENV_SETTINGS, loadConfig, RunService } from '../run/index.js';
import { TemplateError } from '../template/index.js';

export const RUN_USAGE = `weft run [--config weft.yaml]

The always-on correlator: reads the sources the templates declare (Kafka topics, HTTP ingest at
POST /ingest/<source>), stitches sessions, writes them to the store, serves the API, /healthz,
/readyz and /metrics. Without kafka.brokers it runs embedded (HTTP ingest only). SIGTERM or
SIGINT finishes the work in flight, checkpoints and commits, then exits.

Every setting can also come from the environment (it wins over the file):
${ENV_SETTINGS.map((s) => `  ${s.env.padEnd(32)} ${s.path.padEnd(26)} ${s.help}`).join('\n')}
  WEFT_SOURCE_<NAME>_TOPIC         sources.<name>.topic       topic of one source (overrides the template)`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { config: { type: 'string' }, help: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(RUN_USAGE + '\n');
    return 0;
  }
  let service: RunService;
  try {
    service = await RunService.start(loadConfig(values.config));
  } catch (error) {
    if (error instanceof ConfigError || error instanceof TemplateError) {
      process.stderr.write(`weft run: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      service.log.info({ signal }, 'shutting down');
      service.stop().then(() => resolve(0), (error: unknown) => {
        service.log.error({ err: String(error) }, 'shutdown failed');
        resolve(1);
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
