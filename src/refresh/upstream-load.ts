/**
 * The cache's `load`: picks the provider for a key's source and runs the call inside the
 * shared upstream budget, in the lane the cache asked for (a background load moves to the
 * on-demand lane when the cache says a client waits on it).
 */
import type { Load } from '../cache/credential-cache.js';
import type {
  CredentialProvider,
  DatabaseCredentials,
  IssuedCredentials,
  PartitionCredentialsRequest,
  RedshiftCredentialsRequest,
  S3Credentials,
  TableCredentialsRequest,
} from '../providers/types.js';
import type { UpstreamBudget } from './budget.js';

export interface Providers {
  readonly lakeformation_table: CredentialProvider<TableCredentialsRequest, S3Credentials>;
  readonly lakeformation_partition: CredentialProvider<PartitionCredentialsRequest, S3Credentials>;
  readonly redshift_serverless: CredentialProvider<RedshiftCredentialsRequest, DatabaseCredentials>;
}

export function budgetedLoad(providers: Providers, budget: UpstreamBudget): Load {
  return (key, lane, urgent) =>
    budget.run<IssuedCredentials<unknown>>(
      lane,
      () => {
        switch (key.source) {
          case 'lakeformation_table':
            return providers.lakeformation_table.fetch(key.request);
          case 'lakeformation_partition':
            return providers.lakeformation_partition.fetch(key.request);
          case 'redshift_serverless':
            return providers.redshift_serverless.fetch(key.request);
        }
      },
      urgent,
    );
}
