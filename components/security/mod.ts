/**
 * Public API of components/security: REST tokens and their gate, NATS users and connection
 * credentials, TLS, and the files secrets live in.
 */
export {
  CLUSTER_SECRETS,
  type ClusterSecrets,
  ensureClusterSecrets,
  NATS_AUTH_CONF,
  nkeyFileOf,
  PROMETHEUS_USER,
  PROMETHEUS_WEB_CONFIG,
} from "./cluster_secrets.ts";
export {
  guardMetrics,
  type MetricsScope,
  type MetricsTokens,
  metricsTokensFrom,
} from "./metrics_guard.ts";
export {
  clientNatsOptions,
  type JobNatsSettings,
  jobNatsConnectOptions,
  jobNatsConnector,
  jobNatsOpener,
  jobNatsSettings,
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
  clientRestCa,
  clientRestToken,
  restGuardFrom,
  restTlsFrom,
  restTokensFrom,
  withBearer,
} from "./rest_auth.ts";
export { guardRest, type RestGuardOptions, type RestScope, type RestTokens } from "./rest_guard.ts";
export { clientCertOf, clientKeyOf, ensureTlsFiles, TLS_FILES } from "./tls_certs.ts";
export {
  credentialsDir,
  ensureTokenFile,
  generatedTokenFile,
  generateToken,
  privateDir,
  readTokenFile,
} from "./tokens.ts";
