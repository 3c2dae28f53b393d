/** Housekeeping and the assembled engine in virtual time, on node-cron's schedule semantics. */
import assert from 'node:assert/strict';
import type { EvictionReason } from '../../src/cache/credential-cache.js';
import { type CredentialKey, redshiftKey, tableKey } from '../../src/cache/key.js';
import { ManualClock } from '../../src/clock.js';
import type { CredentialProvider, IssuedCredentials, Source } from '../../src/providers/types.js';
import { createCredentialEngine } from '../../src/refresh/engine.js';
import type { HousekeepingReport } from '../../src/refresh/housekeeping.js';
import type { Providers } from '../../src/refresh/upstream-load.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

const orders = tableKey({
  tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
  permissions: ['SELECT'],
  supportedPermissionTypes: ['COLUMN_PERMISSION'],
  durationSeconds: 3600,
});
const returns = tableKey({
  tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/returns',
  permissions: ['SELECT'],
  supportedPermissionTypes: ['COLUMN_PERMISSION'],
  durationSeconds: 3600,
});
const warehouse = redshiftKey({ workgroupName: 'analytics', dbName: 'dev', durationSeconds: 3600 });

/** Fake upstream: every call issues a credential living `lifetimeMs`, counted per source. */
function fakeProviders(clock: ManualClock, lifetimeMs: number) {
  const calls: Source[] = [];
  const provider = <R, C>(source: Source, credentials: C): CredentialProvider<R, C> => ({
    source,
    fetch: (_request: R): Promise<IssuedCredentials<C>> => {
      calls.push(source);
      return Promise.resolve({ credentials, expiration: clock.now() + lifetimeMs });
    },
  });
  const s3 = { accessKeyId: 'ASIA', secretAccessKey: 'secret', sessionToken: 'token' };
  const providers: Providers = {
    lakeformation_table: provider('lakeformation_table', s3),
    lakeformation_partition: provider('lakeformation_partition', s3),
    redshift_serverless: provider('redshift_serverless', { dbUser: 'u', dbPassword: 'p' }),
    lakeformation_location: provider('lakeformation_location', s3),
  };
  return { providers, calls };
}

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup(targets: CredentialKey[] = []) {
  // 10:00:07 UTC: housekeeping (every 15 s) runs at :15, :30, :45, :00.
  const clock = new ManualClock(Date.UTC(2026, 10, 24, 10, 0, 7));
  const { providers, calls } = fakeProviders(clock, 60 * MINUTE);
  const reports: HousekeepingReport[] = [];
  const evictions: { id: string; reason: EvictionReason }[] = [];
  const engine = createCredentialEngine({
    clock,
    providers,
    idleMs: 15 * MINUTE,
    minRemainingMs: 5 * MINUTE,
    targets,
    random: () => 0,
    on: {
      housekeeping: (report) => reports.push(report),
      evict: (entry, reason) => evictions.push({ id: entry.key.id, reason }),
    },
  });
  return { clock, engine, calls, reports, evictions };
}

describe('housekeeping', () => {
  it('runs on its cron schedule and reports entries per source', async () => {
    const { clock, engine, reports } = setup();
    await engine.cache.get(orders);
    await engine.cache.get(warehouse);
    assert.equal(reports.length, 0, 'nothing runs before start');
    engine.start();
    clock.advance(8 * SECOND - 1);
    assert.equal(reports.length, 0);
    clock.advance(1);
    assert.equal(reports.length, 1);
    assert.deepEqual(reports[0], {
      at: Date.UTC(2026, 10, 24, 10, 0, 15),
      removed: 0,
      entries: {
        lakeformation_table: 1,
        lakeformation_partition: 0,
        redshift_serverless: 1,
        lakeformation_location: 0,
      },
    });
    clock.advance(45 * SECOND);
    assert.equal(reports.length, 4);
    engine.stop();
    clock.advance(5 * MINUTE);
    assert.equal(reports.length, 4, 'stop ends the runs');
    assert.equal(clock.pendingTimers, 0, 'and every refresh timer');
  });

  it('reports a run that throws and keeps its schedule: a failed sweep is no uncaught exception', async () => {
    const { clock, engine, reports } = setup();
    const errors: unknown[] = [];
    const failing = createCredentialEngine({
      clock,
      providers: fakeProviders(clock, 60 * MINUTE).providers,
      on: {
        housekeeping: () => {
          throw new Error('observer failed');
        },
        housekeepingError: (error) => errors.push(error),
      },
    });
    engine.start();
    failing.start();
    clock.advance(8 * SECOND); // 10:00:15, the first run of both
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as Error).message, 'observer failed');
    clock.advance(15 * SECOND);
    assert.equal(errors.length, 2, 'the schedule went on');
    assert.equal(reports.length, 2, 'and the other engine was not disturbed');
    failing.stop();
    engine.stop();
  });

  it('sweeps idle keys within one period of their idle window, keeping configured targets', async () => {
    const { clock, engine, evictions, calls } = setup([warehouse]);
    engine.start();
    await engine.warm();
    // a target is a standing job, loaded at start whether or not anyone asks for it.
    assert.deepEqual(calls, ['redshift_serverless']);
    await engine.cache.get(orders);
    await engine.cache.get(returns);
    assert.equal((await engine.cache.get(warehouse)).result, 'hit');
    clock.advance(10 * MINUTE);
    await engine.cache.get(returns); // returns stays in use
    clock.advance(5 * MINUTE - 7 * SECOND); // 10:15:00: orders idle for 14:53
    assert.equal(evictions.length, 0);
    clock.advance(15 * SECOND); // 10:15:15: orders idle for 15:08, swept at this run
    assert.deepEqual(evictions, [{ id: orders.id, reason: 'idle' }]);
    assert.equal(engine.cache.peek(orders), undefined);
    assert.equal(engine.scheduler.scheduledAt(orders), undefined, 'its refresh went with it');
    assert.ok(engine.cache.peek(returns));
    // Half-life refresh at 10:30:07: the target is refreshed though nobody asked for it.
    clock.advance(15 * MINUTE);
    await settle();
    assert.deepEqual(calls, [
      'redshift_serverless',
      'lakeformation_table',
      'lakeformation_table',
      'redshift_serverless',
    ]);
    clock.advance(60 * MINUTE);
    await settle();
    assert.ok(engine.cache.peek(warehouse), 'a target is never swept');
    assert.equal(engine.cache.peek(returns), undefined);
    assert.deepEqual(
      evictions.map((e) => e.reason),
      ['idle', 'idle'],
    );
    engine.stop();
  });

  it('sweeps credentials that can no longer be served as expired', async () => {
    const { clock, engine, evictions } = setup();
    engine.scheduler.stop(); // no refreshes: the entry ages out
    engine.start();
    for (let minute = 0; minute < 55; minute += 10) {
      await engine.cache.get(orders); // in use, so never idle
      clock.advance(Math.min(10, 55 - minute) * MINUTE);
    }
    // Usable until 10:55:07 (5 min floor); the first run after that is 10:55:15.
    assert.equal(evictions.length, 0);
    clock.advance(8 * SECOND);
    assert.deepEqual(evictions, [{ id: orders.id, reason: 'expired' }]);
    engine.stop();
  });
});
