/**
 * Benchmark host for the emulator scenarios: runs the emulator and the bare baseline server in
 * this child process, on 127.0.0.1, at the parent's request (see `lib/host.ts`).
 */
import { type RunningEmulator, startEmulator } from '../../src/emulator/server.js';
import {
  type CannedResponse,
  type RunningBareServer,
  startBareServer,
} from '../lib/bare-server.js';
import { serveHost } from '../lib/host.js';

const running: (RunningEmulator | RunningBareServer)[] = [];

serveHost(
  {
    async startEmulator() {
      const emulator = await startEmulator({ host: '127.0.0.1', port: 0 });
      running.push(emulator);
      return { url: emulator.url };
    },
    async startBare(params) {
      const bare = await startBareServer(params as CannedResponse[]);
      running.push(bare);
      return { url: bare.url };
    },
  },
  async () => {
    await Promise.all(running.map((server) => server.close()));
  },
);
