/** Public API of components/security: REST tokens and their gate, and the files secrets live in. */

export {
  CLUSTER_SECRETS,
  type ClusterSecret,
  type ClusterSecrets,
  ensureClusterSecrets,
} from "./cluster_secrets.ts";
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
