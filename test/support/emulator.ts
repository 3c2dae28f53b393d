/**
 * Test helpers around a real emulator on a loopback port: start it once per suite, reset it
 * before each test, and talk to its control API.
 */
import { LakeFormationClient } from '@aws-sdk/client-lakeformation';
import { RedshiftServerlessClient } from '@aws-sdk/client-redshift-serverless';
import {
  type EmulatorOptions,
  type RunningEmulator,
  startEmulator,
} from '../../src/emulator/server.js';

export const TABLE_ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';
export const PLACEHOLDER_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

export interface EmulatorHandle {
  /** The running emulator; set by the suite's `before` hook. */
  readonly current: RunningEmulator;
  control(path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  lakeFormation(config?: ClientExtras): LakeFormationClient;
  redshift(config?: ClientExtras): RedshiftServerlessClient;
}

export interface ClientExtras {
  maxAttempts?: number;
  requestTimeoutMs?: number;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Registers mocha hooks that run one emulator for the enclosing `describe`. */
export function useEmulator(options: EmulatorOptions = {}): EmulatorHandle {
  let emulator: RunningEmulator | undefined;
  const clients: { destroy(): void }[] = [];
  before(async () => {
    emulator = await startEmulator(options);
  });
  beforeEach(() => emulator?.state.reset());
  afterEach(() => {
    for (const client of clients.splice(0)) client.destroy();
  });
  after(async () => {
    await emulator?.close();
  });

  const running = (): RunningEmulator => {
    if (!emulator) throw new Error('the emulator is not running (used outside a test?)');
    return emulator;
  };
  const clientConfig = (extras: ClientExtras) => ({
    endpoint: running().url,
    region: 'us-east-1',
    credentials: extras.credentials ?? PLACEHOLDER_CREDENTIALS,
    maxAttempts: extras.maxAttempts ?? 1,
    ...(extras.requestTimeoutMs !== undefined && {
      // Without throwOnRequestTimeout the Smithy handler only logs a warning and keeps waiting.
      requestHandler: { requestTimeout: extras.requestTimeoutMs, throwOnRequestTimeout: true },
    }),
  });

  return {
    get current() {
      return running();
    },
    async control(path, body) {
      const response = await fetch(`${running().url}/_emulator/${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        ...(body !== undefined && {
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        }),
      });
      return { status: response.status, body: await response.json() };
    },
    lakeFormation(extras = {}) {
      const client = new LakeFormationClient(clientConfig(extras));
      clients.push(client);
      return client;
    },
    redshift(extras = {}) {
      const client = new RedshiftServerlessClient(clientConfig(extras));
      clients.push(client);
      return client;
    },
  };
}
