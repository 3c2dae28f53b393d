/** The `proxies` section: each checked against the targets, the listen addresses and TLS. */
import assert from 'node:assert/strict';
import { checkConfig } from '../../src/cli/client.js';
import { ConfigError, buildConfig } from '../../src/config/config.js';

const TARGETS = [
  { name: 'warehouse', source: 'redshift_serverless', workgroupName: 'analytics', dbName: 'dev' },
  {
    name: 'orders',
    source: 'lakeformation_table',
    tableArn: 'arn:aws:glue:us-east-1:123456789012:table/sales/orders',
  },
];

function problems(proxies: unknown[], extra: Record<string, unknown> = {}): readonly string[] {
  try {
    buildConfig(
      { listen: '127.0.0.1:9911', targets: TARGETS, proxies, ...extra },
      { baseDir: '/etc/credcache' },
    );
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

describe('config: proxies', () => {
  it('takes a proxy for a Redshift target, verify-full and token by default, caFile resolved', () => {
    const config = buildConfig(
      {
        targets: TARGETS,
        proxies: [
          {
            target: 'warehouse',
            listen: '127.0.0.1:5439',
            upstream: 'wg.example.com:5439',
            caFile: 'ca.pem',
          },
        ],
      },
      { baseDir: '/etc/credcache' },
    );
    assert.deepEqual(config.proxies, [
      {
        target: 'warehouse',
        listen: '127.0.0.1:5439',
        upstream: 'wg.example.com:5439',
        tls: 'verify-full',
        caFile: '/etc/credcache/ca.pem',
        clientAuth: 'token',
        maxConnections: 100,
      },
    ]);
  });

  it('refuses clientAuth: none off loopback, and clientAuth: token with authentication disabled', () => {
    assert.deepEqual(
      problems(
        [
          { target: 'warehouse', listen: '0.0.0.0:5439', upstream: 'db:5439', clientAuth: 'none' },
          { target: 'warehouse', listen: '0.0.0.0:5440', upstream: 'db:5439' },
          {
            target: 'warehouse',
            listen: '127.0.0.1:5441',
            upstream: 'db:5439',
            clientAuth: 'none',
          },
        ],
        { allowNonLoopback: true },
      ),
      [
        'proxies[0].clientAuth: none is allowed only on a loopback listen address; 0.0.0.0 is not one',
      ],
    );
    assert.deepEqual(
      problems(
        [
          { target: 'warehouse', listen: '127.0.0.1:5439', upstream: 'db:5439' },
          {
            target: 'warehouse',
            listen: '127.0.0.1:5440',
            upstream: 'db:5439',
            clientAuth: 'none',
          },
        ],
        { auth: { disabled: true } },
      ),
      [
        "proxies[0].clientAuth: token needs the daemon's token, and auth.disabled is true; say clientAuth: none to let any local process in",
      ],
    );
  });

  it('bounds the connections of each proxy: maxConnections, a whole number from 1 to 10,000', () => {
    const at = (maxConnections: unknown) =>
      problems([
        { target: 'warehouse', listen: '127.0.0.1:5439', upstream: 'db:5439', maxConnections },
      ]);
    assert.deepEqual(at(0), ['proxies[0].maxConnections: must be at least 1']);
    assert.deepEqual(at(10_001), ['proxies[0].maxConnections: must be at most 10000']);
    assert.deepEqual(at(2.5), ['proxies[0].maxConnections: must be a whole number']);
    assert.deepEqual(at('lots'), ['proxies[0].maxConnections: must be a number']);
    assert.deepEqual(at(1), []);
    const config = buildConfig({
      targets: TARGETS,
      proxies: [
        { target: 'warehouse', listen: '127.0.0.1:5439', upstream: 'db:5439', maxConnections: 7 },
      ],
    });
    assert.equal(config.proxies[0]?.maxConnections, 7);
  });

  it('names every problem: target, listen, upstream, tls', () => {
    assert.deepEqual(
      problems([
        { target: 'nope', listen: '127.0.0.1:5439', upstream: 'db:5439' },
        { target: 'orders', listen: '0.0.0.0:5440', upstream: 'db:5439' },
        { target: 'warehouse', listen: '127.0.0.1:9911', upstream: 'db' },
        {
          target: 'warehouse',
          listen: '127.0.0.1:5441',
          upstream: 'db.example.com:5439',
          tls: 'disable',
        },
        {
          target: 'warehouse',
          listen: '127.0.0.1:5442',
          upstream: '127.0.0.1:5432',
          tls: 'disable',
          clientAuth: 'anyone',
        },
      ]),
      [
        'proxies[4].clientAuth: must be token or none',
        'proxies[0].target: no target "nope" is configured',
        'proxies[1].target: orders is a lakeformation_table target; a proxy needs a redshift_serverless one',
        'proxies[1].listen: 0.0.0.0 is not a loopback address; set allowNonLoopback: true to listen on it',
        'proxies[2].listen: 127.0.0.1:9911 is already listen',
        'proxies[2].upstream: must be host:port (for example 127.0.0.1:9911)',
        'proxies[3].tls: disable is allowed only for a loopback upstream; use verify-full',
      ],
    );
  });

  it('check-config prints each proxy', () => {
    const config = buildConfig(
      {
        targets: TARGETS,
        proxies: [
          { target: 'warehouse', listen: '127.0.0.1:5439', upstream: 'db.example.com:5439' },
        ],
      },
      { env: {} },
    );
    const lines = checkConfig({ config, region: undefined });
    const at = lines.indexOf('proxies: 1');
    assert.deepEqual(lines.slice(at, at + 2), [
      'proxies: 1',
      '  proxies[0]: PostgreSQL on 127.0.0.1:5439 → db.example.com:5439 as target warehouse (TLS verify-full; clients send the token as password; at most 100 connections)',
    ]);
  });
});
