// fleetvault as a library: typed functions that take options and return data. Never prints,
// never exits; errors are FleetvaultError subclasses (UsageError, VaultError, DeviceError).
export * from './errors.js';
export { resolveConfig, durationToSeconds, formatDuration, DEFAULT_LAYOUT, type FleetvaultConfig, type LayoutSettings, type VaultSettings } from './config.js';
export { VaultClient, type VaultClientOptions, type RequestOptions } from './vault/client.js';
export { connect, appRoleLogin, clientFromSettings } from './vault/connect.js';
export { bootstrapVault, readCaPublicKey, type BootstrapChange, type BootstrapResult } from './vault/bootstrap.js';
export { findIssuerDrift, type IssuerDrift } from './vault/issuer-drift.js';
export { policyText, allPolicies } from './vault/policies.js';
export { getCaPublicKey, type CaPublicKey } from './ca/public-key.js';
export { authorizedKeyLine } from './ca/authorized-key.js';
export { rotateCa, resolveRotationJournal, type RotateOptions, type RotateReport, type StageReport } from './ca/rotate.js';
export { rotationStatus, type RotationStatusReport } from './ca/rotate-status.js';
export { abortRotation, type AbortOptions, type AbortReport } from './ca/rotate-abort.js';
export { signUserKey, type SignedCertificate, type SignUserKeyOptions } from './ssh/sign.js';
export { parseCertificate, describeCertificate, verifyIssuedCertificate, type CertificateInfo } from './ssh/certificate.js';
export { generateEd25519KeyPair, parseUserPublicKey } from './ssh/keys.js';
export { validatePrincipal, validatePrincipals } from './ssh/principals.js';
export { startDevServer, type DevServer } from './dev/openbao.js';
export { startDevice, type Device } from './dev/device.js';
export { startEmbedded, stopEmbedded } from './dev/embedded.js';
export { findVaultBinary } from './dev/find-binary.js';
export { writeFileAtomic } from './fs/atomic.js';
export { loginWithToken, loginWithUserpass, describeToken, type LoginResult, type LoginMethod, type UserpassLoginOptions } from './auth/login.js';
export { loginWithOidc, parseListenAddress, type OidcLoginOptions } from './auth/oidc.js';
export { storeToken } from './auth/token-store.js';
export { readAuditEvents, AuditLineProcessor, emptyStats as emptyAuditStats, type AuditReadOptions, type AuditReadStats, type AuditPairingOptions } from './audit/reader.js';
export { normalizeAuditPair, type AuditEvent, type AuditEventKind, type AuditEventDetails, type RawAuditRecord } from './audit/events.js';
export { auditEvents, summarizeAuditLog, filterEvents, eventMatches, parseTimeBound, formatEventTable, type AuditFilter, type AuditSummary, type AuditReportOptions } from './audit/report.js';
export { findAnomalies, AnomalyDetector, type Anomaly, type AnomalyOptions, type AnomalyType } from './audit/anomalies.js';
export { hashForAudit, listAuditDevices, matchStringsFor, type AuditDevice, type AuditHash } from './audit/resolve.js';
export { tailAuditLog, type TailOptions } from './audit/tail.js';
export { sealConfig, unsealEnvelope, rewrapEnvelopes, type SealConfigOptions, type RewrapResult } from './provision/seal.js';
export { parseEnvelope, formatEnvelope, fleetContext, ENVELOPE_FORMAT, ENVELOPE_VERSION, type SealedEnvelope } from './provision/envelope.js';
export { createBatch, unwrapSecretId, revokeBatch, listBatches, type CreatedBatch, type BatchInfo, type RevokedBatch } from './provision/batch.js';
export { registerOutOfBand, readBalenaCredentials, type RegisterResult } from './provision/register.js';
export { stripProvisioningKey } from './provision/strip.js';
export { findDevice, registerDevice as registerBalenaDevice, type FoundDevice } from './balena/sdk.js';
export { routeToDevice, tunnelAddressFor, type DeviceRoute, type TunnelRoute, type DirectRoute, type Via } from './device/route.js';
export { openTunnel, parseTunnelAddress, type TunnelAddress } from './device/tunnel.js';
export { balenaApiUrl, findBalenaToken } from './balena/settings.js';
export { readBootFile, readBootFileOptional, writeBootFile, BOOT_PARTITION } from './image/boot-partition.js';
export {
  devicePrincipal, fleetPrincipal, devicePrincipals, encodeFleetSlug, decodeFleetSlug, normalizeFleetSlug, normalizeUuid, scopePrincipal,
  BREAK_GLASS_PRINCIPAL, grantAccess, revokeAccess, listAccess, signScoped, whoCan, type Scope, type Grantee, type AccessGrant, type AccessResult,
} from './access/index.js';
