/** The configuration: defaults, every rule naming its field, environment overrides, YAML errors. */
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { allowList } from '../../src/config/allow-list.js';
import { ConfigError, buildConfig, defaultDuration, loadConfig } from '../../src/config/config.js';
import { parseListen } from '../../src/net/address.js';

const ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';

function problems(document: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    buildConfig(document, { env });
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration: can the budget keep the cache fresh', () => {
  it('refuses a maxEntries the refresh rate cannot keep fresh, with the arithmetic', () => {
    assert.deepEqual(problems({ cache: { maxEntries: 100_000 } }), [
      'cache.maxEntries: 100000 entries with 3600 s credentials are each refreshed about every 1620 s: ' +
        '61.7 refreshes/s, more than upstream.ratePerSecond (20); lower cache.maxEntries to at most 32400 ' +
        'or raise upstream.ratePerSecond to at least 62',
    ]);
  });

  it('takes the shortest default or target duration, and accepts what the rate can carry', () => {
    // 900 s credentials are refreshed every 405 s: 10,000 entries need 24.7 calls/s.
    const short = problems({ upstream: { durationSeconds: 900 } });
    assert.equal(short.length, 1);
    assert.match(
      short[0] ?? '',
      /^cache\.maxEntries: 10000 entries with 900 s credentials .* 24\.7 refreshes\/s/,
    );
    assert.doesNotThrow(() =>
      buildConfig({ upstream: { durationSeconds: 900, ratePerSecond: 25 } }),
    );
    assert.doesNotThrow(() =>
      buildConfig({ cache: { maxEntries: 100_000 }, upstream: { ratePerSecond: 62 } }),
    );
    const target = problems({
      targets: [
        { name: 'short', source: 'lakeformation_table', tableArn: ARN, durationSeconds: 900 },
      ],
    });
    assert.match(target[0] ?? '', /10000 entries and 1 target with 900 s credentials/);
  });
});

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = buildConfig({});
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 9911 });
    assert.equal(config.allowNonLoopback, false);
    assert.equal(config.auth.disabled, false);
    assert.equal(config.auth.tokenFile, undefined);
    assert.deepEqual(config.cache, {
      maxEntries: 10_000,
      minRemainingSeconds: 300,
      idleSeconds: 900,
      negativeTtlSeconds: 5,
      refreshNowMinIntervalSeconds: 10,
    });
    assert.equal(config.upstream.durationSeconds, 3600);
    assert.equal(config.upstream.auditContext, 'credcache');
    assert.equal(config.log.level, 'info');
    assert.deepEqual(config.targets, []);
    assert.equal(config.allow, undefined);
  });

  it('fills target defaults and takes the documented example as written', () => {
    const config = buildConfig({
      listen: '127.0.0.1:9911',
      auth: { tokenFile: '/var/run/credcache/token' },
      cache: { maxEntries: 10000, minRemainingSeconds: 300, idleSeconds: 900 },
      upstream: { region: 'us-east-1', auditContext: 'credcache' },
      allow: {
        tables: ['arn:aws:glue:us-east-1:123456789012:table/sales/*'],
        workgroups: ['analytics-*'],
      },
      targets: [
        {
          name: 'orders',
          source: 'lakeformation_table',
          tableArn: ARN,
          permissions: ['SELECT'],
          supportedPermissionTypes: ['COLUMN_PERMISSION'],
          durationSeconds: 3600,
        },
        {
          name: 'orders-2026',
          source: 'lakeformation_partition',
          tableArn: ARN,
          values: ['2026', '11'],
        },
        {
          name: 'warehouse',
          source: 'redshift_serverless',
          workgroupName: 'analytics-prod',
          dbName: 'dev',
        },
      ],
    });
    assert.equal(config.targets.length, 3);
    const partition = config.targets[1];
    assert.ok(partition?.source === 'lakeformation_partition');
    assert.deepEqual(partition.permissions, []);
    assert.deepEqual(partition.supportedPermissionTypes, ['COLUMN_PERMISSION']);
    assert.equal(config.auth.tokenFile, '/var/run/credcache/token');
  });

  it('names the field and the rule of every problem, all at once', () => {
    assert.deepEqual(
      problems({
        bogus: 1,
        cache: { maxEntries: 'many', minRemainingSeconds: -1, extra: true },
        targets: [
          { name: 'Orders', source: 'lakeformation_table', tableArn: 'arn:aws:s3:::bucket' },
          {
            name: 'w',
            source: 'redshift_serverless',
            workgroupName: 'analytics',
            dbName: 'select',
          },
          { name: 'x', source: 'dynamodb' },
          { name: 'p', source: 'lakeformation_partition', tableArn: ARN, values: [] },
          { name: 't', source: 'lakeformation_table', tableArn: ARN, permissions: ['READ'] },
          { name: 'd', source: 'redshift_serverless', workgroupName: 'wg', durationSeconds: 7200 },
        ],
      }),
      [
        'cache.maxEntries: must be a number',
        'cache.minRemainingSeconds: must be at least 0',
        'cache.extra: unknown field',
        'targets[0].name: must match [a-z0-9-]{1,63}',
        'targets[0].tableArn: not a Glue table ARN (arn:<partition>:glue:<region>:<account>:table/<database>/<table>)',
        "targets[1].dbName: 'select' is a reserved word",
        'targets[2].source: must be lakeformation_table, lakeformation_partition, redshift_serverless or lakeformation_location',
        'targets[3].values: must hold from 1 to 100 partition values',
        'targets[4].permissions[0]: not a Lake Formation permission (ALL, SELECT, ALTER, DROP, DELETE, INSERT, DESCRIBE, CREATE_DATABASE, CREATE_TABLE, DATA_LOCATION_ACCESS, CREATE_LF_TAG, ASSOCIATE, GRANT_WITH_LF_TAG_EXPRESSION, CREATE_LF_TAG_EXPRESSION, CREATE_CATALOG, SUPER_USER)',
        'targets[5].workgroupName: must be 3 to 64 characters of a-z, 0-9 and -',
        'targets[5].durationSeconds: must be a whole number of seconds from 900 to 3600',
        'bogus: unknown field',
      ],
    );
  });

  it('reports schema problems and the checks that span fields together, skipping only a check whose field is wrong', () => {
    assert.deepEqual(
      problems({
        listen: '0.0.0.0:9911',
        auth: { token: 'a-token-of-enough-length', tokenFile: '/run/token' },
        cache: { maxEntries: 'many' },
        allow: { workgroups: ['bi-*'] },
        targets: [
          { name: 'a', source: 'lakeformation_table', tableArn: ARN },
          { name: 'a', source: 'lakeformation_table', tableArn: ARN },
          { name: 'w', source: 'redshift_serverless', workgroupName: 'analytics' },
          { name: 'Bad', source: 'lakeformation_table', tableArn: ARN },
        ],
      }),
      [
        'cache.maxEntries: must be a number',
        'targets[3].name: must match [a-z0-9-]{1,63}',
        'listen: 0.0.0.0 is not a loopback address; set allowNonLoopback: true to listen on it',
        'auth.token: give either auth.token or auth.tokenFile, not both',
        'targets[1].name: a is already the name of targets[0]',
        'targets[2].workgroupName: not in allow.workgroups',
      ],
    );
    // A wrong allowNonLoopback skips the loopback check (it reads that field), not the others.
    assert.deepEqual(
      problems({ listen: '0.0.0.0:1', allowNonLoopback: 'yes', probeListen: 'nowhere' }),
      [
        'allowNonLoopback: must be true or false',
        'probeListen: must be host:port (for example 127.0.0.1:9911)',
      ],
    );
    // The capacity check runs once every field it reads is valid, beside other problems.
    assert.deepEqual(problems({ cache: { maxEntries: 100_000 }, listen: 'x' }), [
      'listen: must be host:port (for example 127.0.0.1:9911)',
      problems({ cache: { maxEntries: 100_000 } })[0],
    ]);
  });

  it('checks what spans fields: duplicate names, one Redshift name, the allow-list, listen, auth', () => {
    assert.deepEqual(
      problems({
        targets: [
          { name: 'a', source: 'lakeformation_table', tableArn: ARN },
          { name: 'a', source: 'lakeformation_table', tableArn: ARN },
        ],
      }),
      ['targets[1].name: a is already the name of targets[0]'],
    );
    assert.deepEqual(problems({ targets: [{ name: 'r', source: 'redshift_serverless' }] }), [
      'targets[0].workgroupName: exactly one of workgroupName and customDomainName is required',
    ]);
    assert.deepEqual(
      problems({
        allow: { tables: ['arn:aws:glue:us-east-1:123456789012:table/hr/*'], workgroups: ['bi-*'] },
        targets: [
          { name: 'o', source: 'lakeformation_table', tableArn: ARN },
          { name: 'w', source: 'redshift_serverless', workgroupName: 'analytics' },
          { name: 'c', source: 'redshift_serverless', customDomainName: 'db.example.com' },
        ],
      }),
      [
        'targets[0].tableArn: not in allow.tables',
        'targets[1].workgroupName: not in allow.workgroups',
        'targets[2].customDomainName: not in allow.customDomains',
      ],
    );
    assert.deepEqual(problems({ listen: '0.0.0.0:9911' }), [
      'listen: 0.0.0.0 is not a loopback address; set allowNonLoopback: true to listen on it',
    ]);
    assert.equal(
      buildConfig({ listen: '0.0.0.0:9911', allowNonLoopback: true }).listen.host,
      '0.0.0.0',
    );
    assert.deepEqual(problems({ listen: 'localhost' }), [
      'listen: must be host:port (for example 127.0.0.1:9911)',
    ]);
    assert.deepEqual(problems({ auth: { disabled: true, tokenFile: '/t' } }), [
      'auth.disabled: cannot be combined with auth.token or auth.tokenFile',
    ]);
    assert.deepEqual(problems({ auth: { token: 'short' } }), [
      'auth.token: must be at least 16 characters',
    ]);
    assert.deepEqual(problems([1, 2]), ['(top level): must be a mapping of sections']);
  });

  it('applies CREDCACHE_* variables over the file, naming the variable when one is wrong', () => {
    const config = buildConfig(
      { cache: { minRemainingSeconds: 300 }, upstream: { region: 'eu-west-1' } },
      {
        env: {
          CREDCACHE_CACHE_MIN_REMAINING_SECONDS: '120',
          CREDCACHE_CACHE_REFRESH_NOW_MIN_INTERVAL_SECONDS: '30',
          CREDCACHE_LISTEN: '127.0.0.1:7000',
          CREDCACHE_LOG_LEVEL: 'debug',
          CREDCACHE_TOKEN_FILE: '/run/token',
          CREDCACHE_UPSTREAM_REGION: 'us-west-2',
          CREDCACHE_ALLOW_NON_LOOPBACK: 'false',
          CREDCACHE_CONFIG: '/etc/credcache/credcache.yaml',
          CREDCACHE_CONFIG_YAML: 'listen: 127.0.0.1:1',
          UNRELATED_VARIABLE: 'ignored',
        },
      },
    );
    assert.equal(config.cache.minRemainingSeconds, 120);
    assert.equal(config.cache.refreshNowMinIntervalSeconds, 30);
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 7000 });
    assert.equal(config.log.level, 'debug');
    assert.equal(config.auth.tokenFile, '/run/token');
    assert.equal(config.upstream.region, 'us-west-2');
    assert.equal(
      buildConfig({}, { env: { CREDCACHE_TOKEN: 'a-token-from-the-environment' } }).auth.token,
      'a-token-from-the-environment',
    );
    assert.deepEqual(problems({}, { CREDCACHE_CACHE_MAX_ENTRIES: 'lots' }), [
      'CREDCACHE_CACHE_MAX_ENTRIES (cache.maxEntries): must be a number',
    ]);
    assert.deepEqual(problems({}, { CREDCACHE_LOG_LEVEL: 'chatty' }), [
      'CREDCACHE_LOG_LEVEL (log.level): not a log level',
    ]);
    assert.deepEqual(problems({}, { CREDCACHE_LISTEN: '0.0.0.0:1' }), [
      'CREDCACHE_LISTEN: 0.0.0.0 is not a loopback address; set allowNonLoopback: true to listen on it',
    ]);
  });

  it('refuses a CREDCACHE_* variable that names no field, suggesting the closest name', () => {
    assert.deepEqual(
      problems(
        {},
        {
          CREDCACHE_CACHE_MAX_ENTRIE: '10',
          CREDCACHE_LOGLEVEL: 'debug',
          CREDCACHE_WHATEVER: '',
          CREDCACHE_ALLOW_HOSTS: 'a.example',
          CREDCACHE_CACHE_MIN_REMAINING_SECONDS: 'soon',
        },
      ),
      [
        'CREDCACHE_ALLOW_HOSTS: allowHosts is not a single value; set it in the configuration file',
        'CREDCACHE_CACHE_MAX_ENTRIE: names no configuration field; did you mean CREDCACHE_CACHE_MAX_ENTRIES?',
        'CREDCACHE_LOGLEVEL: names no configuration field; did you mean CREDCACHE_LOG_LEVEL?',
        'CREDCACHE_WHATEVER: names no configuration field',
        'CREDCACHE_CACHE_MIN_REMAINING_SECONDS (cache.minRemainingSeconds): must be a number of seconds',
      ],
    );
    // An empty value of a real variable counts as unset: the file's value stands.
    assert.equal(
      buildConfig({ cache: { maxEntries: 5 } }, { env: { CREDCACHE_CACHE_MAX_ENTRIES: '' } }).cache
        .maxEntries,
      5,
    );
  });

  it('reads YAML files, resolving a relative token file against the file, and says where YAML breaks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'credcache-config-'));
    const good = join(dir, 'good.yaml');
    await writeFile(good, 'auth:\n  tokenFile: run/token\ntargets: []\n');
    assert.equal((await loadConfig(good, {})).auth.tokenFile, join(dir, 'run/token'));

    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'cache:\n  maxEntries: [1\n');
    await assert.rejects(loadConfig(broken, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /broken\.yaml: line \d+, column \d+: not valid YAML/);
      return true;
    });
    const duplicate = join(dir, 'duplicate.yaml');
    await writeFile(duplicate, 'listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n');
    await assert.rejects(loadConfig(duplicate, {}), /DUPLICATE_KEY/);
    await assert.rejects(
      loadConfig(join(dir, 'missing.yaml'), {}),
      /missing\.yaml: file not found/,
    );
    const empty = join(dir, 'empty.yaml');
    await writeFile(empty, '');
    assert.equal((await loadConfig(empty, {})).listen.port, 9911);
  });

  it('reads the token file mode as octal, quoted, unquoted or from the environment', () => {
    const mode = (text: string, env: NodeJS.ProcessEnv = {}) =>
      buildConfig(parse(text) as unknown, { env }).auth.tokenFileMode;
    assert.equal(mode('{}'), 0o600);
    assert.equal(mode('auth:\n  tokenFileMode: 0640\n'), 0o640, 'YAML reads it as 640');
    assert.equal(mode("auth:\n  tokenFileMode: '0600'\n"), 0o600);
    assert.equal(mode('{}', { CREDCACHE_AUTH_TOKEN_FILE_MODE: '0640' }), 0o640);
    assert.deepEqual(problems(parse('auth:\n  tokenFileMode: 0777\n')), [
      'auth.tokenFileMode: must be 0600 or 0640',
    ]);
  });

  it('parses listen addresses, IPv6 included', () => {
    assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseListen('[::1]:9911'), { host: '::1', port: 9911 });
    assert.deepEqual(parseListen(':9911'), { host: '127.0.0.1', port: 9911 });
    assert.equal(typeof parseListen('127.0.0.1:70000'), 'string');
    assert.equal(typeof parseListen('[nope]:1'), 'string');
  });

  it('allow-lists with * wildcards only, and refuses custom domains when workgroups are restricted', () => {
    const allow = allowList({
      tables: ['arn:aws:glue:*:123456789012:table/sales/*'],
      workgroups: ['a.b-*'],
    });
    assert.equal(allow.denies({ kind: 'table', tableArn: ARN }), undefined);
    assert.ok(
      allow.denies({ kind: 'table', tableArn: ARN.replace('123456789012', '999999999999') }),
    );
    assert.equal(allow.denies({ kind: 'workgroup', name: 'a.b-x' }), undefined);
    assert.ok(allow.denies({ kind: 'workgroup', name: 'aXb-x' }), '. is literal');
    assert.ok(allow.denies({ kind: 'customDomain', name: 'db.example.com' }));
    assert.equal(allowList(undefined).allowsAll, true);
    assert.equal(allowList({ tables: [] }).denies({ kind: 'workgroup', name: 'any' }), undefined);
  });

  it('caps the default duration at Redshift Serverless maximum', () => {
    const config = buildConfig({ upstream: { durationSeconds: 7200 } });
    assert.equal(defaultDuration(config, 'lakeformation_table'), 7200);
    assert.equal(defaultDuration(config, 'redshift_serverless'), 3600);
  });
});
