/**
 * Client suite (issue 18): an `aws-credentials` file sink read by Debian's Python botocore
 * (`python3-botocore`) through `AWS_SHARED_CREDENTIALS_FILE` and `AWS_PROFILE=<target>`, from
 * `credcache serve --emulator` run as a child process: botocore gets the key the daemon serves.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  PYTHON,
  type RunningCredcache,
  asRecord,
  cleanEnv,
  explain,
  requirePythonBotocore,
  runProcess,
  startCredcache,
  stringField,
} from './helpers.js';

const CONFIG = `
listen: 127.0.0.1:0
auth:
  tokenFile: token
targets:
  - name: orders
    source: lakeformation_table
    tableArn: arn:aws:glue:us-east-1:123456789012:table/sales/orders
    permissions: [SELECT]
sinks:
  - target: orders
    path: orders.credentials
    format: aws-credentials
`;

/** What botocore's session resolves from the environment's profile, as JSON. */
const SCRIPT = [
  'import json, botocore.session',
  'c = botocore.session.get_session().get_credentials().get_frozen_credentials()',
  "print(json.dumps({'AccessKeyId': c.access_key, 'SecretAccessKey': c.secret_key, 'Token': c.token}))",
].join('\n');

describe('aws-credentials sink read by botocore', function () {
  this.timeout(60_000);
  let daemon: RunningCredcache | undefined;

  before(async () => {
    await requirePythonBotocore();
    daemon = await startCredcache(CONFIG);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('botocore reads the served credential from the file under AWS_PROFILE=<target>', async () => {
    const running = daemon ?? assert.fail('no daemon');
    const response = await fetch(`${running.url}/v1/targets/orders`, {
      headers: { authorization: running.token },
    });
    const served = asRecord(await response.json(), 'target answer');
    const result = await runProcess(
      PYTHON,
      ['-c', SCRIPT],
      cleanEnv({
        AWS_SHARED_CREDENTIALS_FILE: join(running.dir, 'orders.credentials'),
        AWS_PROFILE: 'orders',
      }),
      30_000,
    );
    assert.equal(result.exitCode, 0, explain(result));
    const read = asRecord(JSON.parse(result.stdout) as unknown, 'botocore credentials');
    for (const field of ['AccessKeyId', 'SecretAccessKey', 'Token']) {
      assert.equal(stringField(read, field), stringField(served, field), field);
    }
  });
});
