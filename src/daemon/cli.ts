/**
 * The `credcache` command line. Each subcommand parses its flags and hands over to the
 * package that does the work; nothing else lives here.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { startEmulator } from '../emulator/server.js';

export interface CliIo {
  readonly stdout: (line: string) => void;
  readonly stderr: (line: string) => void;
}

const defaultIo: CliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

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

export function buildProgram(io: CliIo = defaultIo): Command {
  const program = new Command('credcache')
    .description('Credential-caching sidecar for AWS Lake Formation and Redshift Serverless')
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
    .action(async (options: { port: number; host: string; accessKey?: Map<string, string> }) => {
      const emulator = await startEmulator({
        port: options.port,
        host: options.host,
        ...(options.accessKey && { accessKeys: options.accessKey }),
      });
      // Handlers go in before the line that tells a supervisor the emulator is up.
      const stopped = stopOnSignal(() => emulator.close());
      io.stdout(`emulator listening on ${emulator.url}`);
      await stopped;
    });

  return program;
}

/** Resolves after the first SIGTERM or SIGINT has run `stop`. */
function stopOnSignal(stop: () => Promise<void>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onSignal = () => {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      stop().then(resolve, reject);
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}

/** Runs the command line; resolves to the process exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    io.stderr(`credcache: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
