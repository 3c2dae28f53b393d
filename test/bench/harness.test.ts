import assert from 'node:assert/strict';
import { type Profile, summariseProfile } from '../../bench/lib/cpuprofile.js';
import {
  type Environment,
  type RenderedScenario,
  type Scenario,
  mergeDocument,
  renderDocument,
} from '../../bench/lib/report.js';
import { parseWrkOutput, wrkScript } from '../../bench/lib/wrk.js';

const env: Environment = { date: 'D', node: 'v20', cpu: 'C', os: 'O' };
const scenario = (name: string): Scenario => ({
  name,
  title: `Scenario ${name}`,
  run: () => Promise.reject(new Error('not run')),
});
const rendered = (s: Scenario, text: string): RenderedScenario => ({
  scenario: s,
  report: { intro: [text], tables: [], findings: [`findings of ${text}`], failed: false },
});

describe('bench harness', () => {
  describe('mergeDocument', () => {
    const [a, b, c] = [scenario('a'), scenario('b'), scenario('c')];
    const order = [a, b, c];

    it('replaces the sections of the scenarios run and keeps the head and the others', () => {
      const full = renderDocument(env, [
        rendered(a, 'old a'),
        rendered(b, 'old b'),
        rendered(c, 'old c'),
      ]);
      const merged = mergeDocument(full, { ...env, date: 'NEW' }, [rendered(b, 'new b')], order);
      assert.equal(
        merged.slice(0, full.indexOf('## Scenario b')),
        full.slice(0, full.indexOf('## Scenario b')),
      );
      assert.ok(merged.includes('new b') && merged.includes('findings of new b'));
      assert.ok(!merged.includes('old b'));
      assert.ok(merged.includes('refreshed alone (`npm run bench -- b`) on NEW'));
      assert.equal(
        merged.slice(merged.indexOf('## Scenario c')),
        full.slice(full.indexOf('## Scenario c')),
      );
    });

    it('places a section that is not there yet after the scenarios before it', () => {
      const partial = renderDocument(env, [rendered(a, 'old a'), rendered(c, 'old c')]);
      const merged = mergeDocument(partial, env, [rendered(b, 'new b')], order);
      const at = (text: string) => merged.indexOf(text);
      assert.ok(
        at('## Scenario a') < at('## Scenario b') && at('## Scenario b') < at('## Scenario c'),
      );
    });
  });

  describe('wrk', () => {
    it('writes a script that sends the same Host and Authorization to every server', () => {
      const script = wrkScript({
        url: 'http://127.0.0.1:4321',
        path: '/v1/x?a="b"',
        headers: { Authorization: 'tok\\en' },
        connections: 50,
        durationMs: 5_000,
      });
      assert.match(script, /wrk\.headers\["Host"\] = "127\.0\.0\.1:4321"/);
      assert.match(script, /wrk\.headers\["Authorization"\] = "tok\\92en"/);
      assert.match(script, /wrk\.path = "\/v1\/x\?a=\\34b\\34"/);
      assert.match(script, /function done\(summary, latency, requests\)/);
    });

    it('parses the result line of done() and counts non-2xx answers apart', () => {
      const line =
        'WRK_RESULT {"requests":1000,"durationUs":5000000,"bytes":900000,"nonOk":3,"firstNonOk":401,' +
        '"connect":0,"read":1,"write":0,"status":3,"timeout":0,"minUs":50,"meanUs":1200.5,' +
        '"p50Us":1000,"p90Us":2000,"p99Us":4000,"maxUs":9000,"cpuUs":2500000}';
      const result = parseWrkOutput(`Running 5s test @ http://x\n  1 threads\n${line}\n`);
      assert.equal(result.ok, 997);
      assert.equal(result.firstNonOkStatus, 401);
      assert.equal(result.socketErrors.read, 1);
      assert.equal(result.durationMs, 5_000);
      assert.deepEqual(result.latencyMs, {
        min: 0.05,
        mean: 1.2005,
        p50: 1,
        p90: 2,
        p99: 4,
        max: 9,
      });
      assert.equal(result.cpuMs, 2_500);
      assert.throws(() => parseWrkOutput('Running 5s test\n'), /no result line/);
    });
  });

  describe('summariseProfile', () => {
    // root → a → b; samples: b, b, a, idle, b (each sample spans the next delta: 10 µs).
    const profile: Profile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 4] },
        { id: 2, callFrame: { functionName: 'a', url: 'node:x', lineNumber: 0 }, children: [3] },
        { id: 3, callFrame: { functionName: 'b', url: 'node:y', lineNumber: 9 } },
        { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      ],
      startTime: 1_000,
      endTime: 1_060,
      samples: [3, 3, 2, 4, 3, 3],
      timeDeltas: [0, 10, 10, 10, 10, 10],
    };

    it('gives self and total time of the busy samples, idle apart', () => {
      const summary = summariseProfile(profile);
      assert.equal(summary.idleMs, 0.01);
      assert.equal(summary.totalMs, 0.04);
      const b = summary.byFunction.find((f) => f.name === 'b');
      const a = summary.byFunction.find((f) => f.name === 'a');
      assert.deepEqual([b?.selfMs, b?.totalMs, b?.where], [0.03, 0.03, 'node:y:10']);
      assert.deepEqual([a?.selfMs, a?.totalMs], [0.01, 0.04]);
    });

    it('counts only the samples inside the window', () => {
      const summary = summariseProfile(profile, { windowUs: { from: 1_015, to: 1_045 } });
      assert.equal(summary.samples, 2);
      assert.equal(summary.idleMs, 0.01);
    });
  });
});
