import assert from 'node:assert/strict';
import fc from 'fast-check';
import { partitionKey, redshiftKey, tableKey } from '../../src/cache/key.js';

const ARN = 'arn:aws:glue:us-east-1:123456789012:table/sales/orders';
const table = (permissions: string[], types = ['COLUMN_PERMISSION'], durationSeconds = 3600) =>
  tableKey({ tableArn: ARN, permissions, supportedPermissionTypes: types, durationSeconds });

describe('credential keys', () => {
  it('sorts and de-duplicates permission sets, so order and repeats share one entry', () => {
    const a = table(['SELECT', 'DESCRIBE']);
    const b = table(['DESCRIBE', 'SELECT', 'SELECT']);
    assert.equal(a.id, b.id);
    assert.deepEqual(a.request.permissions, ['DESCRIBE', 'SELECT']);
    const c = table(['SELECT'], ['NESTED_PERMISSION', 'COLUMN_PERMISSION', 'NESTED_PERMISSION']);
    assert.deepEqual(c.request.supportedPermissionTypes, [
      'COLUMN_PERMISSION',
      'NESTED_PERMISSION',
    ]);
  });

  it('shares one frozen array per canonical set among keys (a large cache holds many keys)', () => {
    const a = table(['SELECT', 'DESCRIBE']);
    const b = table(['DESCRIBE', 'SELECT']);
    assert.equal(a.request.permissions, b.request.permissions);
    assert.equal(a.request.supportedPermissionTypes, b.request.supportedPermissionTypes);
    assert.ok(Object.isFrozen(a.request.permissions));
    assert.notEqual(table(['SELECT']).request.permissions, a.request.permissions);
  });

  it('keeps every key field significant', () => {
    const ids = new Set([
      table(['SELECT']).id,
      table(['SELECT', 'DESCRIBE']).id,
      table(['SELECT'], ['CELL_FILTER_PERMISSION']).id,
      table(['SELECT'], ['COLUMN_PERMISSION'], 900).id,
      tableKey({
        tableArn: `${ARN}2`,
        permissions: ['SELECT'],
        supportedPermissionTypes: ['COLUMN_PERMISSION'],
        durationSeconds: 3600,
      }).id,
    ]);
    assert.equal(ids.size, 5);
  });

  it('keeps partition values in order and tells a comma inside a value from two values', () => {
    const base = {
      tableArn: ARN,
      permissions: ['SELECT'],
      supportedPermissionTypes: ['COLUMN_PERMISSION'],
      durationSeconds: 3600,
    };
    const a = partitionKey({ ...base, partitionValues: ['2026', '11'] });
    const b = partitionKey({ ...base, partitionValues: ['11', '2026'] });
    const c = partitionKey({ ...base, partitionValues: ['2026,11'] });
    assert.notEqual(a.id, b.id);
    assert.notEqual(a.id, c.id);
    assert.deepEqual(a.request.partitionValues, ['2026', '11']);
    assert.notEqual(a.id, tableKey(base).id, 'a partition key never equals its table key');
  });

  it('tells a workgroup from a custom domain of the same name, and a missing dbName from an empty one', () => {
    const ids = new Set([
      redshiftKey({ workgroupName: 'analytics', durationSeconds: 900 }).id,
      redshiftKey({ customDomainName: 'analytics', durationSeconds: 900 }).id,
      redshiftKey({ workgroupName: 'analytics', dbName: '', durationSeconds: 900 }).id,
      redshiftKey({ workgroupName: 'analytics', dbName: 'dev', durationSeconds: 900 }).id,
      redshiftKey({ workgroupName: 'analytics', dbName: 'dev', durationSeconds: 3600 }).id,
    ]);
    assert.equal(ids.size, 5);
  });

  it('does not share arrays with the caller and freezes what it returns', () => {
    const permissions = ['SELECT'];
    const key = table(permissions);
    permissions.push('DROP');
    assert.deepEqual(key.request.permissions, ['SELECT']);
    assert.ok(
      Object.isFrozen(key) &&
        Object.isFrozen(key.request) &&
        Object.isFrozen(key.request.permissions),
    );
  });

  it('gives equal ids exactly to requests with equal canonical fields (property)', () => {
    const permission = fc.constantFrom('SELECT', 'DESCRIBE', 'ALL', 'ALTER', 'a,b', '"');
    fc.assert(
      fc.property(fc.array(permission), fc.array(permission), (p, q) => {
        const same =
          JSON.stringify([...new Set(p)].sort()) === JSON.stringify([...new Set(q)].sort());
        return (table(p).id === table(q).id) === same;
      }),
    );
  });
});
