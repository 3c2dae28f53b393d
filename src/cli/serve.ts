/**
 * `credcache serve`: the daemon, and with `--emulator` the built-in AWS emulator beside it in
 * the same process (with `--emulator-postgres`, backed by a real PostgreSQL). The command line
 * starts the emulator and hands the daemon its URL as a local upstream; the daemon knows nothing
 * of the emulator but that URL (and, for its start-up line, the database's URL without its password).
 */
import type { RunningEmulator } from '../emulator/server.js';
import { type Daemon, type DaemonOptions, startDaemon } from '../daemon/main.js';

export interface Serving {
  readonly daemon: Daemon;
  /** The built-in emulator, when asked for. */
  readonly emulator: RunningEmulator | undefined;
  /** The daemon's shutdown, then the emulator's. */
  shutdown(): Promise<void>;
}

export async function serve(
  options: Omit<DaemonOptions, 'upstream'> & {
    /**
     * Run the built-in emulator on this loopback port (0 or absent: a free one), backed by the
     * PostgreSQL at `postgres` (a superuser URL) when given, as `credcache emulator --postgres`.
     */
    readonly emulator?: { readonly port?: number; readonly postgres?: string } | undefined;
  },
): Promise<Serving> {
  const { emulator: wanted, ...daemonOptions } = options;
  // Imported only when asked for: a daemon against AWS does not carry the emulator's code.
  const emulatorModule = wanted ? await import('../emulator/server.js') : undefined;
  const emulator = await emulatorModule?.startEmulator({
    host: '127.0.0.1',
    port: wanted?.port ?? 0,
    ...(wanted?.postgres !== undefined && { postgres: wanted.postgres }),
  });
  // The start-up line names the database as it names the emulator's URL, never its password.
  const database =
    wanted?.postgres !== undefined
      ? (await import('../emulator/database.js')).redact(wanted.postgres)
      : undefined;
  try {
    const daemon = await startDaemon({
      ...daemonOptions,
      upstream:
        emulator && emulatorModule
          ? { kind: 'emulator', url: emulator.url, database, ...emulatorModule.EMULATOR_CLIENT }
          : undefined,
    });
    let stopping: Promise<void> | undefined;
    return {
      daemon,
      emulator,
      shutdown: () =>
        (stopping ??= (async () => {
          await daemon.shutdown();
          await emulator?.close();
        })()),
    };
  } catch (error) {
    await emulator?.close();
    throw error;
  }
}
