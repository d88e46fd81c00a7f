// fleetvault as a library: typed functions that take options and return data. Never prints,
// never exits; errors are FleetvaultError subclasses (UsageError, VaultError, DeviceError).
export * from './errors.js';
export { resolveConfig, durationToSeconds, formatDuration, DEFAULT_LAYOUT, type FleetvaultConfig, type LayoutSettings, type VaultSettings } from './config.js';
export { VaultClient, type VaultClientOptions, type RequestOptions } from './vault/client.js';
export { connect, appRoleLogin, clientFromSettings } from './vault/connect.js';
export { bootstrapVault, readCaPublicKey, type BootstrapChange, type BootstrapResult } from './vault/bootstrap.js';
export { policyText, allPolicies } from './vault/policies.js';
export { getCaPublicKey, type CaPublicKey } from './ca/public-key.js';
export { authorizedKeyLine } from './ca/authorized-key.js';
export { signUserKey, type SignedCertificate, type SignUserKeyOptions } from './ssh/sign.js';
export { parseCertificate, describeCertificate, verifyIssuedCertificate, type CertificateInfo } from './ssh/certificate.js';
export { generateEd25519KeyPair, parseUserPublicKey } from './ssh/keys.js';
export { validatePrincipal, validatePrincipals } from './ssh/principals.js';
export { startDevServer, type DevServer } from './dev/openbao.js';
export { startDevice, type Device } from './dev/device.js';
export { startEmbedded, stopEmbedded } from './dev/embedded.js';
export { findVaultBinary } from './dev/find-binary.js';
export { writeFileAtomic } from './fs/atomic.js';
