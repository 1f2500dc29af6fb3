/**
 * A nats-server running a cluster's generated users (`flotilla cluster secrets`: nkeys, allow
 * lists, the JOBS account), and the environment a role process needs to run as one of them.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type ClusterSecrets,
  ensureClusterSecrets,
  type NatsUser,
  nkeyFileOf,
} from "../../components/security/mod.ts";
import { natsUserOptions } from "./compose.ts";
import type { NatsServer } from "./nats.ts";
import { natsFor, type Teardown } from "./tap.ts";

export interface SecuredNats {
  /** A temporary directory, removed at teardown; the secrets are in `secrets.dir` below it. */
  dir: string;
  secrets: ClusterSecrets;
  nats: NatsServer;
  /** A role process's environment: its user's seed, its own reply inbox, its jobs' user. */
  roleEnv(user: NatsUser): Record<string, string>;
  /** A connection as `user` (no reconnects), closed at teardown. */
  clientAs(user: NatsUser): Promise<NatsConnection>;
}

export async function securedNatsFor(t: Teardown, clusterId: string): Promise<SecuredNats> {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-sec-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const secrets = ensureClusterSecrets(join(dir, "credentials"), { clusterId });
  const nats = await natsFor(t, {
    authorization: readFileSync(secrets.files["nats-auth.conf"]!, "utf8"),
    clientOptions: natsUserOptions(secrets.dir, "master"),
  });
  return {
    dir,
    secrets,
    nats,
    async clientAs(user) {
      const nc = await connect({
        servers: nats.url,
        ...natsUserOptions(secrets.dir, user),
        maxReconnectAttempts: 0,
      });
      t.teardown(() => nc.close());
      return nc;
    },
    roleEnv: (user) => ({
      FLOTILLA_NATS_NKEY_FILE: join(secrets.dir, nkeyFileOf(user)),
      FLOTILLA_NATS_INBOX_PREFIX: `_INBOX_${user}`,
      FLOTILLA_NATS_JOB_NKEY_FILE: join(secrets.dir, nkeyFileOf("job")),
    }),
  };
}
