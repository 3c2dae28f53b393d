import assert from 'node:assert/strict';
import { StoredEntry } from '../../src/cache/entry.js';
import { redshiftKey, tableKey } from '../../src/cache/key.js';
import {
  envText,
  formatsFor,
  pgpassField,
  pgpassText,
  processText,
  sinkText,
} from '../../src/sinks/formats.js';

const EXPIRATION = Date.UTC(2026, 10, 1, 12, 0, 0);

const s3Entry = new StoredEntry(
  tableKey({
    tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
    permissions: ['SELECT'],
    supportedPermissionTypes: ['COLUMN_PERMISSION'],
    durationSeconds: 3600,
  }),
  {
    credentials: {
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: "se'cret/key",
      sessionToken: 'token+with=chars',
    },
    expiration: EXPIRATION,
  },
  0,
  0,
);

const dbEntry = new StoredEntry(
  redshiftKey({ workgroupName: 'analytics', dbName: 'dev', durationSeconds: 900 }),
  {
    credentials: { dbUser: 'IAMR:user:x', dbPassword: "pa\\ss:wo'rd" },
    expiration: EXPIRATION,
  },
  0,
  0,
);

describe('sink formats', () => {
  it('aws-credentials: one profile named after the target, with its expiry in a comment', () => {
    assert.equal(
      sinkText('aws-credentials', { name: 'orders' }, s3Entry),
      [
        '# credcache: target orders, expires 2026-11-01T12:00:00.000Z; rewritten on every refresh',
        '[orders]',
        'aws_access_key_id = ASIAEXAMPLE',
        "aws_secret_access_key = se'cret/key",
        'aws_session_token = token+with=chars',
        '',
      ].join('\n'),
    );
  });

  it('env: shell-quoted assignments, as credcache get --format env prints them', () => {
    assert.equal(
      sinkText('env', { name: 'orders' }, s3Entry),
      "AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\nAWS_SECRET_ACCESS_KEY='se'\\''cret/key'\nAWS_SESSION_TOKEN='token+with=chars'\n",
    );
    assert.equal(
      sinkText('env', { name: 'warehouse' }, dbEntry),
      "PGUSER='IAMR:user:x'\nPGPASSWORD='pa\\ss:wo'\\''rd'\n",
    );
  });

  it('json: the target answer the daemon serves (container shape; Redshift shape)', () => {
    assert.deepEqual(JSON.parse(sinkText('json', { name: 'orders' }, s3Entry)), {
      AccessKeyId: 'ASIAEXAMPLE',
      SecretAccessKey: "se'cret/key",
      Token: 'token+with=chars',
      Expiration: '2026-11-01T12:00:00.000Z',
    });
    assert.deepEqual(JSON.parse(sinkText('json', { name: 'warehouse' }, dbEntry)), {
      dbUser: 'IAMR:user:x',
      dbPassword: "pa\\ss:wo'rd",
      expiration: '2026-11-01T12:00:00.000Z',
    });
  });

  it('process: credential_process JSON, Version 1', () => {
    assert.deepEqual(JSON.parse(sinkText('process', { name: 'orders' }, s3Entry)), {
      Version: 1,
      AccessKeyId: 'ASIAEXAMPLE',
      SecretAccessKey: "se'cret/key",
      SessionToken: 'token+with=chars',
      Expiration: '2026-11-01T12:00:00.000Z',
    });
  });

  it('pgpass: any host and port, the database, user and password escaped as libpq reads them', () => {
    assert.equal(
      sinkText('pgpass', { name: 'warehouse', dbName: 'dev' }, dbEntry),
      "*:*:dev:IAMR\\:user\\:x:pa\\\\ss\\:wo'rd\n",
    );
    assert.equal(pgpassText(undefined, { dbUser: 'u', dbPassword: 'p' }), '*:*:*:u:p\n');
    assert.equal(pgpassField('a:b\\c'), 'a\\:b\\\\c');
    assert.throws(() => pgpassField('two\nlines'), /line break/);
  });

  it('the get command and the sinks share one rendering of env and process', () => {
    const answer = { AccessKeyId: 'A', SecretAccessKey: 'S', Token: 'T', Expiration: 'E' };
    assert.equal(
      envText(answer),
      "AWS_ACCESS_KEY_ID='A'\nAWS_SECRET_ACCESS_KEY='S'\nAWS_SESSION_TOKEN='T'",
    );
    assert.deepEqual(JSON.parse(processText(answer)), {
      Version: 1,
      AccessKeyId: 'A',
      SecretAccessKey: 'S',
      SessionToken: 'T',
      Expiration: 'E',
    });
  });

  it('formats suit their sources', () => {
    assert.deepEqual(formatsFor('redshift_serverless'), ['env', 'json', 'pgpass']);
    for (const source of [
      'lakeformation_table',
      'lakeformation_partition',
      'lakeformation_location',
    ] as const) {
      assert.deepEqual(formatsFor(source), ['aws-credentials', 'env', 'json', 'process']);
    }
  });
});
