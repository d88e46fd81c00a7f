// Scoped access: principals (device, fleet, break-glass), the Vault grants behind them, scoped signing.
export * from './principals.js';
export { grantAccess, revokeAccess, listAccess, type AccessChange, type AccessGrant, type AccessResult, type Grantee } from './grants.js';
export { accessPolicyText, accessRoleSettings, accessName } from './vault-objects.js';
export { signScoped, grantCommandFor, type SignScopedOptions } from './sign.js';
export { whoCan, type WhoCanOptions } from './who-can.js';
