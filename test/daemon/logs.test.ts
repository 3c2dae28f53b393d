/**
 * Every log line of a full run — start-up, prewarm, hits, misses, upstream errors, background
 * refreshes of seconds-long credentials, shutdown — at trace level, scanned for every secret
 * the emulator issued and the API token: none may appear.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { TABLE_ARN, TOKEN, useDaemon } from '../support/daemon.js';

describe('daemon logs', function () {
  this.timeout(20_000);
  // One attempt per call, so a throttled refresh fails (and is logged) without SDK retries.
  const daemon = useDaemon({ cache: { minRemainingSeconds: 1 }, upstream: { maxAttempts: 1 } });

  it('never carry a secret, through a full run with refreshes and failures', async () => {
    const get = (path: string) => request(daemon.url).get(path).set('Authorization', TOKEN);
    const served: string[] = [];
    const keep = (body: unknown) => {
      for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
        if (/Secret|Token|Password/.test(field) && typeof value === 'string') served.push(value);
      }
    };
    await daemon.control('config', { credentialLifetimeSeconds: 3 });
    const arn = encodeURIComponent(TABLE_ARN);
    const started = Date.now();
    while (Date.now() - started < 4_000) {
      keep(
        (await get(`/v1/lakeformation/table-credentials?tableArn=${arn}&durationSeconds=900`)).body,
      );
      keep((await get('/v1/redshift-serverless/credentials?workgroupName=short-lived')).body);
      keep((await get('/v1/targets/orders')).body);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await daemon.control('faults', {
      operation: '*',
      mode: 'error',
      errorType: 'AccessDeniedException',
    });
    await get(`/v1/lakeformation/partition-credentials?tableArn=${arn}&values=x`).expect(403);
    await daemon.control('faults', { operation: '*', mode: 'throttle' });
    await new Promise((resolve) => setTimeout(resolve, 2_000)); // background refreshes fail
    await daemon.current.shutdown();

    const emulator = daemon.current.emulator;
    assert.ok(emulator);
    const issued = emulator.state.issuedCredentials();
    const refreshed = daemon.logs.filter((line) => line.includes('background refresh failed'));
    assert.ok(issued.length >= 8, `the emulator issued ${issued.length} credentials`);
    assert.ok(refreshed.length > 0, 'background refresh failures were logged');
    const failure = JSON.parse(refreshed[0] ?? '{}') as Record<string, unknown>;
    assert.equal(failure.level, 'warn');
    assert.equal(failure.error, 'ThrottlingException');
    assert.equal(failure.kind, 'Throttled');
    assert.equal(typeof failure.requestId, 'string');
    assert.ok((failure.key as { source?: string }).source, 'the key fields');
    const secrets = [
      TOKEN,
      ...served,
      ...issued.map((credential) => credential.secretAccessKey ?? credential.id),
    ];
    const log = daemon.logs.join('');
    assert.ok(log.includes('credcache listening') && log.includes('"msg":"stopped"'));
    for (const secret of secrets) assert.ok(!log.includes(secret), 'a secret appeared in the logs');
  });
});
