/**
 * Lake Formation credential vending: `GetTemporaryGlueTableCredentials`,
 * `GetTemporaryGluePartitionCredentials` and `GetTemporaryDataLocationCredentials`, each a thin
 * wrapper over the SDK command.
 */
import type { PermissionType, Permission } from '@aws-sdk/client-lakeformation';
import type { LakeFormationSdk } from './clients.js';
import { UpstreamError, classified } from './errors.js';
import type {
  CredentialProvider,
  IssuedCredentials,
  LocationCredentials,
  LocationCredentialsRequest,
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

const auditContextInput = (options: LakeFormationProviderOptions) =>
  options.auditContext !== undefined
    ? { AuditContext: { AdditionalAuditContext: options.auditContext } }
    : {};

function commonInput(request: TableCredentialsRequest, options: LakeFormationProviderOptions) {
  return {
    TableArn: request.tableArn,
    Permissions: [...request.permissions] as Permission[],
    SupportedPermissionTypes: [...request.supportedPermissionTypes] as PermissionType[],
    DurationSeconds: request.durationSeconds,
    ...auditContextInput(options),
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

/**
 * `GetTemporaryDataLocationCredentials`: the credential under `Credentials`, served with the
 * `AccessibleDataLocations` and `CredentialsScope` AWS answered (each only when it did).
 */
export function createLocationCredentialsProvider(
  lakeFormation: LakeFormationSdk,
  options: LakeFormationProviderOptions = {},
): CredentialProvider<LocationCredentialsRequest, LocationCredentials> {
  return {
    source: 'lakeformation_location',
    async fetch(request, call) {
      const { sdk, client } = await lakeFormation.get();
      const command = new sdk.GetTemporaryDataLocationCredentialsCommand({
        DataLocations: [...request.dataLocations],
        CredentialsScope: request.credentialsScope,
        DurationSeconds: request.durationSeconds,
        ...auditContextInput(options),
      });
      const output = await classified(client.send(command, { abortSignal: call?.signal }));
      const { credentials, expiration } = issued(
        output.Credentials ?? {},
        output.$metadata.requestId,
      );
      const { AccessibleDataLocations, CredentialsScope } = output;
      return {
        credentials: {
          accessKeyId: credentials.accessKeyId,
          secretAccessKey: credentials.secretAccessKey,
          sessionToken: credentials.sessionToken,
          ...(AccessibleDataLocations !== undefined && {
            accessibleDataLocations: AccessibleDataLocations,
          }),
          ...(CredentialsScope !== undefined && { credentialsScope: CredentialsScope }),
        },
        expiration,
      };
    },
  };
}
