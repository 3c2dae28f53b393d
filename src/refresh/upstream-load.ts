/**
 * The innermost stages of a load: `providerFetcher` picks the provider of a key's source and
 * makes the one AWS call (cancelled when the load's signal aborts); `budgetedFetcher` runs a
 * fetcher inside the shared upstream budget, in the queue the load's context names.
 */
import type { CredentialFetcher } from '../cache/fetcher.js';
import { cancellation } from '../cache/fetcher.js';
import type {
  CredentialProvider,
  DatabaseCredentials,
  IssuedCredentials,
  LocationCredentials,
  LocationCredentialsRequest,
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
  readonly lakeformation_location: CredentialProvider<
    LocationCredentialsRequest,
    LocationCredentials
  >;
}

export function providerFetcher(providers: Providers): CredentialFetcher {
  return {
    async fetch(key, { signal }) {
      const options = { signal };
      let issued: IssuedCredentials<unknown>;
      try {
        switch (key.source) {
          case 'lakeformation_table':
            issued = await providers.lakeformation_table.fetch(key.request, options);
            break;
          case 'lakeformation_partition':
            issued = await providers.lakeformation_partition.fetch(key.request, options);
            break;
          case 'redshift_serverless':
            issued = await providers.redshift_serverless.fetch(key.request, options);
            break;
          case 'lakeformation_location':
            issued = await providers.lakeformation_location.fetch(key.request, options);
            break;
        }
      } catch (error) {
        // An SDK call cut short by the signal fails with an abort error: say why it ended.
        if (signal.aborted) throw cancellation(signal);
        throw error;
      }
      return issued;
    },
  };
}

export function budgetedFetcher(
  inner: CredentialFetcher,
  budget: UpstreamBudget,
): CredentialFetcher {
  return {
    fetch: (key, context) => budget.run(() => inner.fetch(key, context), context),
  };
}
