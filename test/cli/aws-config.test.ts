/**
 * `credcache aws-config` as a process, and the quoting its `credential_process` lines (and the
 * serve command's curl hint) rely on, checked against the two readers: `sh` and Python's
 * `shlex.split` (botocore's reader on POSIX).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { shellCommand, shellWord } from '../../src/shell-words.js';
import { BIN, ENV } from '../support/process.js';

const run = promisify(execFile);

const TARGETS = `
upstream:
  region: eu-west-1
targets:
  - name: orders
    source: lakeformation_table
    tableArn: arn:aws:glue:eu-west-1:123456789012:table/sales/orders
    permissions: [SELECT]
  - name: orders-2026
    source: lakeformation_partition
    tableArn: arn:aws:glue:eu-west-1:123456789012:table/sales/orders
    values: ['2026', '11']
  - name: warehouse
    source: redshift_serverless
    workgroupName: analytics
`;

/** The words `line` splits into for `sh` and for Python's `shlex.split`. */
async function splitBoth(line: string): Promise<{ sh: string[]; shlex: string[] }> {
  const sh = await run('/bin/sh', ['-c', `for w in ${line}; do printf '%s\\0' "$w"; done`]);
  const py = await run('python3', [
    '-c',
    'import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))',
    line,
  ]);
  return { sh: sh.stdout.split('\0').slice(0, -1), shlex: JSON.parse(py.stdout) as string[] };
}

describe('shell words', () => {
  it('leaves plain words alone and quotes the rest so sh and shlex.split read the same words', async () => {
    assert.equal(shellWord('/usr/bin/node'), '/usr/bin/node');
    assert.equal(shellWord('a b'), "'a b'");
    const words = [
      '/opt/my tools/node',
      "/home/o'brien/credcache.yaml",
      'x"y',
      '$HOME',
      '`id`',
      'tab\there',
      'back\\slash',
      '*',
      'plain-word_1.2',
    ];
    const split = await splitBoth(shellCommand(words));
    assert.deepEqual(split.sh, words);
    assert.deepEqual(split.shlex, words);
  });
});

describe('credcache aws-config (process)', function () {
  this.timeout(20_000);

  it('prints one profile per Lake Formation target, its credential_process absolute and quoted', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'credcache-aws config-')), "o'brien dir");
    await mkdir(dir);
    const file = join(dir, 'credcache.yaml');
    await writeFile(file, TARGETS);
    // Run from another directory with a relative --config: the profile names it absolutely.
    const { stdout } = await run(
      process.execPath,
      [BIN, 'aws-config', '--config', 'credcache.yaml'],
      {
        cwd: dir,
        env: ENV,
      },
    );
    const profiles = [...stdout.matchAll(/^\[profile ([^\]]+)\]$/gm)].map((m) => m[1]);
    assert.deepEqual(profiles, ['orders', 'orders-2026']);
    assert.match(stdout, /^# warehouse: a Redshift Serverless target/m);
    const commands = [...stdout.matchAll(/^credential_process = (.*)$/gm)].map((m) => m[1] ?? '');
    assert.equal(commands.length, 2);
    for (const [index, name] of ['orders', 'orders-2026'].entries()) {
      const split = await splitBoth(commands[index] ?? '');
      const expected = [process.execPath, BIN, 'get', name, '--config', file];
      assert.deepEqual(split.shlex, expected);
      assert.deepEqual(split.sh, expected);
    }
    assert.equal([...stdout.matchAll(/^region = eu-west-1$/gm)].length, 2);
  });

  it('takes the config from CREDCACHE_CONFIG, and refuses one with no Lake Formation target in one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'credcache-aws-config-'));
    const file = join(dir, 'credcache.yaml');
    await writeFile(file, TARGETS);
    const viaEnv = await run(process.execPath, [BIN, 'aws-config'], {
      env: { ...ENV, CREDCACHE_CONFIG: file },
    });
    assert.match(viaEnv.stdout, new RegExp(`get orders --config ${file}$`, 'm'));

    const none = await run(process.execPath, [BIN, 'aws-config'], { cwd: dir, env: ENV }).then(
      () => assert.fail('expected a non-zero exit'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(none.code, 1);
    assert.equal(
      none.stderr,
      'credcache: defaults and environment: no Lake Formation target to write a profile for\n',
    );
  });
});
