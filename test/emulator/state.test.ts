import assert from 'node:assert/strict';
import { EmulatorState, matchesPattern, newAccessKeyId } from '../../src/emulator/state.js';

describe('emulator state', () => {
  it('matches deny / missing patterns literally except for * wildcards', () => {
    const table: [string, string, boolean][] = [
      ['analytics', 'analytics', true],
      ['analytics', 'analytics-2', false],
      ['analytics*', 'analytics-2', true],
      ['*', 'anything', true],
      ['arn:aws:glue:*:table/sales/*', 'arn:aws:glue:us-east-1:1:table/sales/orders', true],
      ['arn:aws:glue:*:table/sales/*', 'arn:aws:glue:us-east-1:1:table/hr/people', false],
      ['a.c', 'abc', false],
      ['(x)+', '(x)+', true],
      ['*-prod', 'wg-prod', true],
      ['*-prod', 'wg-prod-2', false],
    ];
    for (const [pattern, value, expected] of table) {
      assert.equal(matchesPattern(pattern, value), expected, `${pattern} ~ ${value}`);
    }
  });

  it('makes access key ids that look like STS ones and never repeat', () => {
    const ids = new Set<string>();
    for (let sequence = 1; sequence <= 5_000; sequence++) {
      const id = newAccessKeyId(sequence);
      assert.match(id, /^ASIA[A-Z2-7]{16}$/);
      ids.add(id);
    }
    assert.equal(ids.size, 5_000);
  });

  it('consumes counted faults and keeps uncounted ones', () => {
    const state = new EmulatorState();
    state.setFault({ operation: 'GetCredentials', mode: 'error', remaining: 1 });
    state.setFault({ operation: '*', mode: 'throttle' });
    assert.equal(state.takeFault('GetCredentials')?.mode, 'error');
    assert.equal(state.takeFault('GetCredentials')?.mode, 'throttle');
    assert.equal(state.takeFault('GetCredentials')?.mode, 'throttle');
    state.setFault({ operation: '*', mode: 'ok' });
    assert.equal(state.takeFault('GetTemporaryGlueTableCredentials'), undefined);
  });
});
