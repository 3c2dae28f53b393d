/**
 * The allow-list: which tables, workgroups, custom domains and S3 data locations the daemon may
 * fetch credentials for. Patterns are globs where only `*` is special (it matches `/` too, so
 * `s3://bucket/sales/*` admits every location under `sales/`, and `s3://bucket/sales` itself,
 * which would also cover `sales-old/`, only when listed).
 */
import type { RawConfig, TargetConfig } from './schema.js';

/** A glob where `*` matches any run of characters (including none) and nothing else is special. */
export function globMatcher(pattern: string): (value: string) => boolean {
  const regex = new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&'))
      .join('.*')}$`,
  );
  return (value) => regex.test(value);
}

/** The resource a request or target asks for, as the allow-list sees it. */
export type Resource =
  | { readonly kind: 'table'; readonly tableArn: string }
  | { readonly kind: 'workgroup'; readonly name: string }
  | { readonly kind: 'customDomain'; readonly name: string }
  /** One S3 URI of `DataLocations`: a request is allowed when each of its locations is. */
  | { readonly kind: 'location'; readonly uri: string };

/** What a target asks for: one resource, or one per data location (in the target's order). */
export function targetResources(target: TargetConfig): readonly Resource[] {
  switch (target.source) {
    case 'redshift_serverless':
      return [
        target.workgroupName !== undefined
          ? { kind: 'workgroup', name: target.workgroupName }
          : { kind: 'customDomain', name: target.customDomainName ?? '' },
      ];
    case 'lakeformation_location':
      return target.dataLocations.map((uri) => ({ kind: 'location', uri }));
    case 'lakeformation_table':
    case 'lakeformation_partition':
      return [{ kind: 'table', tableArn: target.tableArn }];
  }
}

export interface AllowList {
  /** True when every resource is allowed (no `allow` section). */
  readonly allowsAll: boolean;
  /** Which list refuses `resource`, or undefined when it is allowed. */
  denies(resource: Resource): { list: string; field: string } | undefined;
}

/**
 * The allow-list: each list that is present admits only what matches one of its patterns; an
 * absent list admits everything of its kind, except custom domains, which are refused when
 * `workgroups` is restricted and `customDomains` is not (a custom domain could name any
 * workgroup), and data locations, which are refused when `tables` is restricted and `locations`
 * is not (a location could hold any table's data).
 */
export function allowList(allow: RawConfig['allow']): AllowList {
  const compile = (list: readonly string[] | undefined) =>
    list === undefined ? undefined : list.map(globMatcher);
  const tables = compile(allow?.tables);
  const workgroups = compile(allow?.workgroups);
  const customDomains =
    compile(allow?.customDomains) ?? (workgroups !== undefined ? [] : undefined);
  const locations = compile(allow?.locations) ?? (tables !== undefined ? [] : undefined);
  const admits = (list: ((value: string) => boolean)[] | undefined, value: string) =>
    list === undefined || list.some((matches) => matches(value));
  return {
    allowsAll: allow === undefined,
    denies(resource) {
      switch (resource.kind) {
        case 'table':
          return admits(tables, resource.tableArn)
            ? undefined
            : { list: 'tables', field: 'tableArn' };
        case 'workgroup':
          return admits(workgroups, resource.name)
            ? undefined
            : { list: 'workgroups', field: 'workgroupName' };
        case 'customDomain':
          return admits(customDomains, resource.name)
            ? undefined
            : { list: 'customDomains', field: 'customDomainName' };
        case 'location':
          return admits(locations, resource.uri)
            ? undefined
            : { list: 'locations', field: 'dataLocations' };
      }
    },
  };
}
