/** The `sinks` section: each sink's fields, and what spans them and the targets. */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkConfig } from '../../src/cli/client.js';
import { ConfigError, buildConfig, loadConfig } from '../../src/config/config.js';

const TARGETS = [
  {
    name: 'orders',
    source: 'lakeformation_table',
    tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
  },
  { name: 'warehouse', source: 'redshift_serverless', workgroupName: 'analytics', dbName: 'dev' },
];

function problems(document: Record<string, unknown>): readonly string[] {
  try {
    buildConfig({ targets: TARGETS, ...document }, { env: {} });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration: sinks', () => {
  it('takes sinks with their defaults (mode 0600), paths resolved against the config folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'credcache-sinks-'));
    const file = join(dir, 'credcache.yaml');
    await writeFile(
      file,
      [
        'targets:',
        '  - {name: orders, source: lakeformation_table, tableArn: "arn:aws:glue:us-east-1:123456789012:table/sales/orders"}',
        '  - {name: warehouse, source: redshift_serverless, workgroupName: analytics}',
        'sinks:',
        '  - {target: orders, path: run/orders.credentials, format: aws-credentials}',
        '  - {target: warehouse, path: /abs/pgpass, format: pgpass, mode: 0400}',
      ].join('\n'),
    );
    const config = await loadConfig(file, {});
    assert.deepEqual(config.sinks, [
      {
        target: 'orders',
        path: join(dir, 'run/orders.credentials'),
        format: 'aws-credentials',
        mode: 0o600,
      },
      { target: 'warehouse', path: '/abs/pgpass', format: 'pgpass', mode: 0o400 },
    ]);
    assert.deepEqual(buildConfig({}, { env: {} }).sinks, []);
  });

  it('refuses a sink naming no configured target, naming the field', () => {
    assert.deepEqual(problems({ sinks: [{ target: 'x', path: '/a', format: 'json' }] }), [
      'sinks[0].target: no target "x" is configured',
    ]);
  });

  it('refuses a format its target cannot be written in', () => {
    assert.deepEqual(
      problems({
        sinks: [
          { target: 'orders', path: '/a', format: 'pgpass' },
          { target: 'warehouse', path: '/b', format: 'aws-credentials' },
          { target: 'warehouse', path: '/c', format: 'process' },
          { target: 'warehouse', path: '/d', format: 'env' },
          { target: 'orders', path: '/e', format: 'json' },
        ],
      }),
      [
        'sinks[0].format: pgpass does not suit target "orders" (lakeformation_table); use aws-credentials, env, json, process',
        'sinks[1].format: aws-credentials does not suit target "warehouse" (redshift_serverless); use env, json, pgpass',
        'sinks[2].format: process does not suit target "warehouse" (redshift_serverless); use env, json, pgpass',
      ],
    );
  });

  it('refuses two sinks on one path, as resolved', () => {
    assert.deepEqual(
      problems({
        sinks: [
          { target: 'orders', path: '/run/a', format: 'json' },
          { target: 'warehouse', path: '/run/x/../a', format: 'json' },
        ],
      }),
      ['sinks[1].path: /run/a is already the path of sinks[0]'],
    );
  });

  it('refuses modes others could read or anyone but the owner write, and unknown formats', () => {
    assert.deepEqual(
      problems(
        parse(
          'sinks:\n  - {target: orders, path: /a, format: json, mode: 0644}\n  - {target: orders, path: /b, format: ini, mode: "0660"}\n  - {target: orders, path: "", format: json}\n',
        ) as Record<string, unknown>,
      ),
      [
        'sinks[0].mode: must be 0600, 0640, 0400 or 0440',
        'sinks[1].format: must be one of aws-credentials, env, json, process, pgpass',
        'sinks[1].mode: must be 0600, 0640, 0400 or 0440',
        'sinks[2].path: must not be empty',
      ],
    );
    assert.deepEqual(
      problems({ sinks: [{ target: 'orders', path: '/a', format: 'json', extra: 1 }] }),
      ['sinks[0].extra: unknown field'],
    );
    assert.deepEqual(problems({ sinks: { target: 'orders' } }), ['sinks: must be a list of sinks']);
  });

  it('refuses a pgpass sink its group could read: libpq would ignore the file', () => {
    assert.deepEqual(
      problems({
        sinks: [
          { target: 'warehouse', path: '/a', format: 'pgpass', mode: '0640' },
          { target: 'warehouse', path: '/b', format: 'pgpass', mode: '0440' },
          { target: 'warehouse', path: '/c', format: 'json', mode: '0640' },
          { target: 'warehouse', path: '/d', format: 'pgpass', mode: '0400' },
        ],
      }),
      [
        'sinks[0].mode: libpq ignores a pgpass file its group or others can read; use "0600" or "0400"',
        'sinks[1].mode: libpq ignores a pgpass file its group or others can read; use "0600" or "0400"',
      ],
    );
  });

  it('check-config prints each sink', () => {
    const config = buildConfig(
      {
        targets: TARGETS,
        sinks: [{ target: 'warehouse', path: '/run/pgpass', format: 'pgpass', mode: '0400' }],
      },
      { env: {} },
    );
    const lines = checkConfig({ config, region: undefined });
    const at = lines.indexOf('sinks: 1');
    assert.deepEqual(lines.slice(at, at + 2), [
      'sinks: 1',
      '  sinks[0]: target warehouse → /run/pgpass (pgpass, mode 0400), rewritten before each new credential is served',
    ]);
  });
});
