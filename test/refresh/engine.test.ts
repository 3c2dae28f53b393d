/**
 * The credential engine end to end in real time: providers over the real SDK clients against
 * the emulator with seconds-long credentials, assembled as the daemon assembles them.
 */
import assert from 'node:assert/strict';
import { partitionKey, redshiftKey, tableKey } from '../../src/cache/key.js';
import { systemClock } from '../../src/clock.js';
import { createUpstreamClients } from '../../src/providers/clients.js';
import {
  createLocationCredentialsProvider,
  createPartitionCredentialsProvider,
  createTableCredentialsProvider,
} from '../../src/providers/lakeformation.js';
import { createRedshiftCredentialsProvider } from '../../src/providers/redshift-serverless.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import { PLACEHOLDER_CREDENTIALS, TABLE_ARN, useEmulator } from '../support/emulator.js';

const LIFETIME_S = 3;
const MIN_REMAINING_MS = 500;
const RUN_MS = 5_000;

describe('credential engine against the emulator (real time, seconds-long credentials)', () => {
  const emulator = useEmulator();

  it('refreshes before expiry, never serves below minRemaining, and calls upstream as scheduled', async function () {
    this.timeout(20_000);
    await emulator.control('config', { credentialLifetimeSeconds: LIFETIME_S });
    const clients = createUpstreamClients({
      region: 'us-east-1',
      lakeFormationEndpoint: emulator.current.url,
      redshiftServerlessEndpoint: emulator.current.url,
      credentials: PLACEHOLDER_CREDENTIALS,
      maxAttempts: 1,
    });
    const providers = {
      lakeformation_table: createTableCredentialsProvider(clients.lakeFormation),
      lakeformation_partition: createPartitionCredentialsProvider(clients.lakeFormation),
      redshift_serverless: createRedshiftCredentialsProvider(clients.redshiftServerless),
      lakeformation_location: createLocationCredentialsProvider(clients.lakeFormation),
    };
    const engine = createCredentialEngine({
      clock: systemClock,
      providers,
      minRemainingMs: MIN_REMAINING_MS,
      random: () => 0, // no jitter: the schedule is exactly half-life
    });
    const { cache } = engine;
    engine.start();
    const keys = [
      tableKey({
        tableArn: TABLE_ARN,
        permissions: ['SELECT'],
        supportedPermissionTypes: ['COLUMN_PERMISSION'],
        durationSeconds: 900,
      }),
      partitionKey({
        tableArn: TABLE_ARN,
        permissions: ['SELECT'],
        supportedPermissionTypes: ['COLUMN_PERMISSION'],
        durationSeconds: 900,
        partitionValues: ['2026', '11'],
      }),
      redshiftKey({ workgroupName: 'analytics', dbName: 'dev', durationSeconds: 900 }),
    ];
    let served = 0;
    let belowFloor = 0;
    const seen = new Set<unknown>();
    try {
      const started = Date.now();
      while (Date.now() - started < RUN_MS) {
        const lookups = await Promise.all(keys.map((key) => cache.get(key)));
        for (const { entry } of lookups) {
          served++;
          if (entry.issued.expiration - Date.now() < MIN_REMAINING_MS) belowFloor++;
          seen.add(entry.issued.credentials);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      engine.stop();
      clients.destroy();
    }
    const calls = (await emulator.control('calls')).body as {
      total: number;
      byOperation: Record<string, number>;
    };
    // Per key: the first load at 0 s, then a refresh every LIFETIME_S / 2 = 1.5 s: 0, 1.5, 3, 4.5.
    const predictedPerKey = 1 + Math.floor(RUN_MS / ((LIFETIME_S * 1000) / 2));
    assert.deepEqual(calls.byOperation, {
      GetTemporaryGlueTableCredentials: predictedPerKey,
      GetTemporaryGluePartitionCredentials: predictedPerKey,
      GetTemporaryDataLocationCredentials: 0,
      GetCredentials: predictedPerKey,
    });
    assert.equal(belowFloor, 0, `served ${served} credentials, none below minRemaining`);
    assert.equal(
      seen.size,
      calls.total,
      'every credential issued was served: refreshes replaced entries',
    );
    assert.ok(served > 100);
  });
});
