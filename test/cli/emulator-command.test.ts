/**
 * `credcache emulator` as a real process: it prints where it listens, serves, and exits 0 on
 * SIGTERM; bad flags exit non-zero with a one-line reason.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const BIN = new URL('../../bin/credcache.js', import.meta.url).pathname;
const run = promisify(execFile);

/** Starts `credcache ARGS` and resolves with the process and its first stdout line. */
async function start(args: string[]): Promise<{ child: ChildProcess; firstLine: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [firstLine] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`credcache exited with ${String(code)} before printing`);
    }),
  ])) as [string];
  return { child, firstLine };
}

describe('credcache emulator (process)', () => {
  it('prints its URL, answers the control API, and exits 0 on SIGTERM', async () => {
    const { child, firstLine } = await start(['emulator', '--port', '0']);
    try {
      const match = /^emulator listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(firstLine);
      assert.ok(match, firstLine);
      const calls = await fetch(`${match[1]}/_emulator/calls`);
      assert.equal(calls.status, 200);
      assert.equal(((await calls.json()) as { total: number }).total, 0);
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = await once(child, 'exit');
    assert.equal(signal, null);
    assert.equal(code, 0);
  });

  it('listens on the port it is given', async () => {
    const probe = await start(['emulator']);
    const port = Number(/:(\d+)$/.exec(probe.firstLine)?.[1]);
    probe.child.kill('SIGTERM');
    await once(probe.child, 'exit');
    const { child, firstLine } = await start(['emulator', '--port', String(port)]);
    child.kill('SIGINT');
    assert.equal(firstLine, `emulator listening on http://127.0.0.1:${port}`);
    assert.deepEqual(await once(child, 'exit'), [0, null]);
  });

  for (const [what, args, reason] of [
    ['a malformed port', ['emulator', '--port', 'eighty'], /--port.*whole number/],
    ['an unknown flag', ['emulator', '--colour'], /unknown option '--colour'/],
    ['an unknown command', ['launch'], /unknown command 'launch'/],
    ['a malformed access key', ['emulator', '--access-key', 'nocolon'], /ACCESS_KEY_ID:SECRET/],
  ] as const) {
    it(`exits non-zero with one line naming ${what}`, async () => {
      const failure = await run(process.execPath, [BIN, ...args]).then(
        () => assert.fail('expected a non-zero exit'),
        (error: { code: number; stderr: string; stdout: string }) => error,
      );
      assert.notEqual(failure.code, 0);
      assert.equal(failure.stdout, '');
      assert.equal(failure.stderr.trim().split('\n').length, 1, failure.stderr);
      assert.match(failure.stderr, reason);
    });
  }

  it('answers --help for the program and for the command', async () => {
    const top = await run(process.execPath, [BIN, '--help']);
    assert.match(top.stdout, /Usage: credcache/);
    assert.match(top.stdout, /emulator/);
    const sub = await run(process.execPath, [BIN, 'emulator', '--help']);
    assert.match(sub.stdout, /--port <port>/);
  });

  it('fails with a clear reason when the port is taken', async () => {
    const { child, firstLine } = await start(['emulator']);
    try {
      const port = /:(\d+)$/.exec(firstLine)?.[1] ?? '';
      const failure = await run(process.execPath, [BIN, 'emulator', '--port', port]).then(
        () => assert.fail('expected a non-zero exit'),
        (error: { code: number; stderr: string }) => error,
      );
      assert.equal(failure.code, 1);
      assert.match(failure.stderr, /^credcache: listen EADDRINUSE.*\n$/);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
