/**
 * The `credcache` command line. Each subcommand parses its flags and hands over to the
 * package that does the work; nothing else lives here.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, loadConfig } from '../config/config.js';
import { reloadOnHangup, stopOnSignal } from '../daemon/lifecycle.js';
import { createLogger } from '../daemon/logger.js';
import { preflight } from '../daemon/preflight.js';
import { logProcessWarnings } from '../daemon/warnings.js';
import { awsConfig } from './aws-config.js';
import { GET_FORMATS, type GetFormat, checkConfig, getTarget } from './client.js';
import { startHint } from './hints.js';
import { serve } from './serve.js';
import { status } from './status.js';
import { VERSION } from '../version.js';

export interface CliIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

const defaultIo: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/**
 * A reader that stops reading early (`credcache check-config FILE | head -1`) ends the process
 * at once and quietly: no EPIPE stack trace, and status 0, since the reader chose to stop and
 * the command did not fail (a Node process cannot die of SIGPIPE as `yes` does).
 */
function endQuietlyWhenOutputCloses(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      process.exit(0);
    });
  }
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError('must be a whole number from 0 to 65535');
  }
  return port;
}

function collectAccessKey(value: string, previous: Map<string, string> | undefined) {
  const match = /^([A-Za-z0-9]{1,128}):(\S+)$/.exec(value);
  if (!match?.[1] || !match[2])
    throw new InvalidArgumentError('must be ACCESS_KEY_ID:SECRET_ACCESS_KEY');
  return new Map(previous ?? []).set(match[1], match[2]);
}

interface EmulatorCommandOptions {
  readonly port: number;
  readonly host: string;
  readonly accessKey?: Map<string, string>;
  readonly postgres?: string;
}

interface ServeCommandOptions {
  readonly config?: string;
  readonly emulator?: boolean;
  readonly emulatorPort?: number;
  readonly emulatorPostgres?: string;
}

export function buildProgram(io: CliIo = defaultIo): Command {
  const program = new Command('credcache')
    .description('Credential-caching sidecar for AWS Lake Formation and Redshift Serverless')
    .version(VERSION)
    .configureOutput({
      writeOut: (text) => io.stdout(text.trimEnd()),
      writeErr: (text) => io.stderr(text.trimEnd()),
    })
    .exitOverride();

  program
    .command('emulator')
    .description(
      'Run the local AWS emulator (Lake Formation and Redshift Serverless credential calls) alone',
    )
    .option('--port <port>', 'port to listen on; 0 picks a free one', parsePort, 0)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option(
      '--access-key <id:secret>',
      'verify SigV4 signatures against this key (repeatable); without it any key is accepted',
      collectAccessKey,
    )
    .option(
      '--postgres <url>',
      'a PostgreSQL superuser URL: each Redshift Serverless credential becomes a login role there',
    )
    .action(async (options: EmulatorCommandOptions) => {
      const { startEmulator } = await import('../emulator/server.js');
      const emulator = await startEmulator({
        port: options.port,
        host: options.host,
        ...(options.accessKey && { accessKeys: options.accessKey }),
        ...(options.postgres !== undefined && { postgres: options.postgres }),
        logError: (message) => io.stderr(`emulator: ${message}`),
      });
      // Handlers go in before the line that tells a supervisor the emulator is up.
      const stopped = stopOnSignal(() => emulator.close(), io.stderr);
      io.stdout(`emulator listening on ${emulator.url}`);
      await stopped;
    });

  program
    .command('serve')
    .description('Run the daemon: fetch, cache, refresh and serve credentials')
    .option('--config <file>', 'YAML configuration (default: $CREDCACHE_CONFIG)')
    .option('--emulator', 'run the built-in AWS emulator in this process and use it as upstream')
    .option(
      '--emulator-port <port>',
      'port of the built-in emulator; 0 picks a free one',
      parsePort,
    )
    .option(
      '--emulator-postgres <url>',
      'with --emulator: a PostgreSQL superuser URL; each Redshift Serverless credential the emulator issues becomes a login role there (as `credcache emulator --postgres`)',
    )
    .action(async (options: ServeCommandOptions, command: Command) => {
      const configFile = options.config ?? process.env.CREDCACHE_CONFIG;
      if (options.emulatorPostgres !== undefined && options.emulator !== true) {
        command.error(
          "error: option '--emulator-postgres <url>' needs --emulator: it backs the built-in emulator, which runs only with --emulator",
        );
      }
      const emulator =
        options.emulator || options.emulatorPort !== undefined
          ? {
              ...(options.emulatorPort !== undefined && { port: options.emulatorPort }),
              ...(options.emulatorPostgres !== undefined && {
                postgres: options.emulatorPostgres,
              }),
            }
          : undefined;
      // The checks serve makes at start, made again by every reload (SIGHUP).
      const check = async () =>
        (await preflight(configFile, { localUpstream: emulator !== undefined })).config;
      const config = await check();
      // The daemon's process: its warnings become log lines (no text among the JSON).
      const logger = createLogger(config.log.level);
      logProcessWarnings(logger);
      const started = serve({ config, emulator, logger });
      // A signal that arrives while starting is acted on once the daemon is up.
      const stopped = stopOnSignal(
        async () => {
          const running = await started.catch(() => undefined);
          await running?.shutdown();
        },
        io.stderr,
        config.shutdownGraceSeconds * 1000,
      );
      // A SIGHUP while starting is acted on once the daemon is up; its outcome is logged.
      reloadOnHangup(
        () =>
          void started.then(
            ({ daemon }) => daemon.reload(check),
            () => undefined, // did not start: its reason is reported there
          ),
      );
      const { daemon } = await started;
      const hint = startHint(daemon, config.targets[0]?.name);
      if (hint !== undefined) io.stderr(hint);
      await stopped;
    });

  program
    .command('get')
    .description(
      "Print a target's credentials from the running daemon (credential_process format unless --format says otherwise)",
    )
    .argument('<target>', 'name of a configured target')
    .option('--config <file>', "the daemon's configuration (default: $CREDCACHE_CONFIG)")
    .addOption(
      new Option(
        '--format <format>',
        "process: credential_process JSON; env: shell assignments; json: the daemon's answer",
      )
        .choices(GET_FORMATS)
        .default('process'),
    )
    .action(async (target: string, options: { config?: string; format: GetFormat }) => {
      io.stdout(
        await getTarget(target, options.config ?? process.env.CREDCACHE_CONFIG, options.format),
      );
    });

  program
    .command('status')
    .description(
      "Print the running daemon's status: each target's state, time left, next refresh, last error (exit 2: not ready)",
    )
    .option('--config <file>', "the daemon's configuration (default: $CREDCACHE_CONFIG)")
    .option('--json', 'print the /v1/status body as JSON, for scripts')
    .action((options: { config?: string; json?: boolean }) => status(options, io));

  program
    .command('aws-config')
    .description(
      'Print an AWS shared config: one profile per Lake Formation target, its credential_process an absolute `credcache get`',
    )
    .option('--config <file>', "the daemon's configuration (default: $CREDCACHE_CONFIG)")
    .action(async (options: { config?: string }) => {
      const file = options.config ?? process.env.CREDCACHE_CONFIG;
      io.stdout(awsConfig(await loadConfig(file), { configFile: file }));
    });

  program
    .command('check-config')
    .description('Validate a configuration file and print what the daemon would do with it')
    .argument('<file>', 'YAML configuration')
    .option('--emulator', 'check it as serve --emulator would run it')
    .action(async (file: string, options: { emulator?: boolean }) => {
      const checked = await preflight(file, { localUpstream: options.emulator === true });
      for (const line of checkConfig(checked)) io.stdout(line);
    });

  return program;
}

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  if (io === defaultIo) endQuietlyWhenOutputCloses();
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError) {
      io.stderr(`credcache: invalid configuration: ${error.origin}`);
      for (const problem of error.problems) io.stderr(`  ${problem}`);
      return 2;
    }
    io.stderr(`credcache: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
