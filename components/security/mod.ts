/** Public API of components/security: REST tokens and their gate, and the files secrets live in. */

export {
  CLUSTER_SECRETS,
  type ClusterSecrets,
  ensureClusterSecrets,
  NATS_AUTH_CONF,
  nkeyFileOf,
} from "./cluster_secrets.ts";
export {
  clientNatsOptions,
  type NatsConnectOptions,
  natsConnectOptions,
  readSecretFile,
} from "./nats_auth.ts";
export {
  inboxPrefixOf,
  NATS_USERS,
  type NatsPermissions,
  type NatsUser,
  natsAuthConfig,
  natsPermissions,
} from "./nats_users.ts";
export {
  clientRestToken,
  restGuardFrom,
  restTokensFrom,
  withBearer,
} from "./rest_auth.ts";
export { guardRest, type RestGuardOptions, type RestScope, type RestTokens } from "./rest_guard.ts";
export {
  credentialsDir,
  ensureTokenFile,
  generatedTokenFile,
  generateToken,
  privateDir,
  readTokenFile,
} from "./tokens.ts";
