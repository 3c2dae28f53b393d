/** Redshift Serverless `GetCredentials`: a temporary database user and password. */
import type { RedshiftServerlessSdk } from './clients.js';
import { UpstreamError, classified } from './errors.js';
import type {
  CredentialProvider,
  DatabaseCredentials,
  RedshiftCredentialsRequest,
} from './types.js';

export function createRedshiftCredentialsProvider(
  redshiftServerless: RedshiftServerlessSdk,
): CredentialProvider<RedshiftCredentialsRequest, DatabaseCredentials> {
  return {
    source: 'redshift_serverless',
    async fetch(request, call) {
      const { sdk, client } = await redshiftServerless.get();
      const command = new sdk.GetCredentialsCommand({
        ...(request.workgroupName !== undefined && { workgroupName: request.workgroupName }),
        ...(request.customDomainName !== undefined && {
          customDomainName: request.customDomainName,
        }),
        ...(request.dbName !== undefined && { dbName: request.dbName }),
        durationSeconds: request.durationSeconds,
      });
      const output = await classified(client.send(command, { abortSignal: call?.signal }));
      const { dbUser, dbPassword, expiration, nextRefreshTime } = output;
      if (!dbUser || !dbPassword || !(expiration instanceof Date)) {
        throw new UpstreamError(
          'Unavailable',
          'InvalidResponse',
          'Redshift Serverless answered without dbUser, dbPassword or expiration',
          output.$metadata.requestId,
        );
      }
      return {
        credentials: { dbUser, dbPassword },
        expiration: expiration.getTime(),
        ...(nextRefreshTime instanceof Date && { nextRefreshTime: nextRefreshTime.getTime() }),
      };
    },
  };
}
