/** Configured targets: a name standing for one credential key, refreshed and kept warm. */
import {
  type CredentialKey,
  locationKey,
  partitionKey,
  redshiftKey,
  tableKey,
} from '../cache/key.js';
import { type Config, type TargetConfig, defaultDuration } from '../config/config.js';

export interface Target {
  readonly name: string;
  readonly key: CredentialKey;
}

export function targetKey(target: TargetConfig, config: Pick<Config, 'upstream'>): CredentialKey {
  const durationSeconds = target.durationSeconds ?? defaultDuration(config, target.source);
  switch (target.source) {
    case 'lakeformation_table':
      return tableKey({
        tableArn: target.tableArn,
        permissions: target.permissions,
        supportedPermissionTypes: target.supportedPermissionTypes,
        durationSeconds,
      });
    case 'lakeformation_partition':
      return partitionKey({
        tableArn: target.tableArn,
        permissions: target.permissions,
        supportedPermissionTypes: target.supportedPermissionTypes,
        durationSeconds,
        partitionValues: target.values,
      });
    case 'redshift_serverless':
      return redshiftKey({
        ...(target.workgroupName !== undefined && { workgroupName: target.workgroupName }),
        ...(target.customDomainName !== undefined && {
          customDomainName: target.customDomainName,
        }),
        ...(target.dbName !== undefined && { dbName: target.dbName }),
        durationSeconds,
      });
    case 'lakeformation_location':
      return locationKey({
        dataLocations: target.dataLocations,
        credentialsScope: target.credentialsScope,
        durationSeconds,
      });
  }
}

/** How a reload changed the targets, by name. */
export interface TargetChanges {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  /** Same name, another credential (table, permissions, duration…). */
  readonly changed: readonly string[];
}

/** The configured targets by name, and a test for "is this key a target". */
export class Targets {
  #byName: ReadonlyMap<string, Target> = new Map();
  #keyIds: ReadonlySet<string> = new Set();

  constructor(config: Pick<Config, 'targets' | 'upstream'>) {
    this.replace(config);
  }

  /** The targets of `config` from now on (a reload); says what changed. */
  replace(config: Pick<Config, 'targets' | 'upstream'>): TargetChanges {
    const previous = this.#byName;
    this.#byName = new Map(
      config.targets.map((target) => [
        target.name,
        { name: target.name, key: targetKey(target, config) },
      ]),
    );
    this.#keyIds = new Set([...this.#byName.values()].map((target) => target.key.id));
    const names = (keep: (target: Target, before: Target | undefined) => boolean) =>
      [...this.#byName.values()]
        .filter((target) => keep(target, previous.get(target.name)))
        .map((target) => target.name);
    return {
      added: names((_, before) => before === undefined),
      removed: [...previous.keys()].filter((name) => !this.#byName.has(name)),
      changed: names((target, before) => before !== undefined && before.key.id !== target.key.id),
    };
  }

  get(name: string): Target | undefined {
    return this.#byName.get(name);
  }

  all(): Target[] {
    return [...this.#byName.values()];
  }

  has(key: CredentialKey): boolean {
    return this.#keyIds.has(key.id);
  }

  get size(): number {
    return this.#byName.size;
  }
}
