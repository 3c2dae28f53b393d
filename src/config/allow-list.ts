/**
 * The allow-list: which tables, workgroups and custom domains the daemon may fetch credentials
 * for. Patterns are globs where only `*` is special.
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
  | { readonly kind: 'customDomain'; readonly name: string };

export function targetResource(target: TargetConfig): Resource {
  if (target.source === 'redshift_serverless') {
    return target.workgroupName !== undefined
      ? { kind: 'workgroup', name: target.workgroupName }
      : { kind: 'customDomain', name: target.customDomainName ?? '' };
  }
  return { kind: 'table', tableArn: target.tableArn };
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
 * workgroup).
 */
export function allowList(allow: RawConfig['allow']): AllowList {
  const compile = (list: readonly string[] | undefined) =>
    list === undefined ? undefined : list.map(globMatcher);
  const tables = compile(allow?.tables);
  const workgroups = compile(allow?.workgroups);
  const customDomains =
    compile(allow?.customDomains) ?? (workgroups !== undefined ? [] : undefined);
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
      }
    },
  };
}
