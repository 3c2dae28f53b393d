/**
 * `credcache serve`: the daemon, and with `--emulator` the built-in AWS emulator beside it in
 * the same process. The command line starts the emulator and hands the daemon its URL as a
 * local upstream; the daemon knows nothing of the emulator but that URL.
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
    /** Run the built-in emulator on this loopback port (0 or absent: a free one). */
    readonly emulator?: { readonly port?: number } | undefined;
  },
): Promise<Serving> {
  const { emulator: wanted, ...daemonOptions } = options;
  // Imported only when asked for: a daemon against AWS does not carry the emulator's code.
  const emulatorModule = wanted ? await import('../emulator/server.js') : undefined;
  const emulator = await emulatorModule?.startEmulator({
    host: '127.0.0.1',
    port: wanted?.port ?? 0,
  });
  try {
    const daemon = await startDaemon({
      ...daemonOptions,
      upstream:
        emulator && emulatorModule
          ? { kind: 'emulator', url: emulator.url, ...emulatorModule.EMULATOR_CLIENT }
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
