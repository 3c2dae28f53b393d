/**
 * Lake Formation credential vending: `GetTemporaryGlueTableCredentials` and
 * `GetTemporaryGluePartitionCredentials`, each a thin wrapper over the SDK command.
 */
import type { PermissionType, Permission } from '@aws-sdk/client-lakeformation';
import type { LakeFormationSdk } from './clients.js';
import { UpstreamError, classified } from './errors.js';
import type {
  CredentialProvider,
  IssuedCredentials,
  PartitionCredentialsRequest,
  S3Credentials,
  TableCredentialsRequest,
} from './types.js';

export interface LakeFormationProviderOptions {
  /** Sent as `AuditContext.AdditionalAuditContext` on every call; absent: none. */
  readonly auditContext?: string;
}

interface CredentialsOutput {
  AccessKeyId?: string;
  SecretAccessKey?: string;
  SessionToken?: string;
  Expiration?: Date;
  VendedS3Path?: string[];
}

/** The issued credential, or `InvalidResponse` when AWS left out a field we need. */
function issued(output: CredentialsOutput, requestId?: string): IssuedCredentials<S3Credentials> {
  const { AccessKeyId, SecretAccessKey, SessionToken, Expiration, VendedS3Path } = output;
  if (!AccessKeyId || !SecretAccessKey || !SessionToken || !(Expiration instanceof Date)) {
    throw new UpstreamError(
      'Unavailable',
      'InvalidResponse',
      'Lake Formation answered without AccessKeyId, SecretAccessKey, SessionToken or Expiration',
      requestId,
    );
  }
  return {
    credentials: {
      accessKeyId: AccessKeyId,
      secretAccessKey: SecretAccessKey,
      sessionToken: SessionToken,
      ...(VendedS3Path !== undefined && { vendedS3Path: VendedS3Path }),
    },
    expiration: Expiration.getTime(),
  };
}

function commonInput(request: TableCredentialsRequest, options: LakeFormationProviderOptions) {
  return {
    TableArn: request.tableArn,
    Permissions: [...request.permissions] as Permission[],
    SupportedPermissionTypes: [...request.supportedPermissionTypes] as PermissionType[],
    DurationSeconds: request.durationSeconds,
    ...(options.auditContext !== undefined && {
      AuditContext: { AdditionalAuditContext: options.auditContext },
    }),
  };
}

export function createTableCredentialsProvider(
  lakeFormation: LakeFormationSdk,
  options: LakeFormationProviderOptions = {},
): CredentialProvider<TableCredentialsRequest, S3Credentials> {
  return {
    source: 'lakeformation_table',
    async fetch(request, call) {
      const { sdk, client } = await lakeFormation.get();
      const output = await classified(
        client.send(
          new sdk.GetTemporaryGlueTableCredentialsCommand(commonInput(request, options)),
          { abortSignal: call?.signal },
        ),
      );
      return issued(output, output.$metadata.requestId);
    },
  };
}

export function createPartitionCredentialsProvider(
  lakeFormation: LakeFormationSdk,
  options: LakeFormationProviderOptions = {},
): CredentialProvider<PartitionCredentialsRequest, S3Credentials> {
  return {
    source: 'lakeformation_partition',
    async fetch(request, call) {
      const { sdk, client } = await lakeFormation.get();
      const command = new sdk.GetTemporaryGluePartitionCredentialsCommand({
        ...commonInput(request, options),
        Partition: { Values: [...request.partitionValues] },
      });
      const output = await classified(client.send(command, { abortSignal: call?.signal }));
      return issued(output, output.$metadata.requestId);
    },
  };
}
