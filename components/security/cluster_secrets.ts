/**
 * A compose cluster's credentials, generated once per cluster on the machine that starts it
 * (`flotilla cluster secrets`, and `flotilla cluster up` before it starts a layout) into
 * `credentials.dir`, which the compose files mount as compose secrets (files under /run/secrets,
 * named in no environment value and shown by no `docker inspect`): the REST tokens, the metrics
 * token Prometheus scrapes with, the password of Prometheus' own web UI and its bcrypt hash in a
 * Prometheus web config, an nkey seed per NATS user, and the nats-server `accounts` block naming
 * their public keys. The
 * directory is this user's only (0700); the files in it are 0644 so that the containers' non-root
 * user can read the ones bind-mounted into them, while nobody else on this machine can reach them.
 */
import { chmodSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nkeys } from "@nats-io/transport-node";
import bcrypt from "bcryptjs";
import { InvalidConfigError } from "../core/mod.ts";
import { NATS_USERS, type NatsUser, natsAuthConfig } from "./nats_users.ts";
import { generateToken, privateDir, readTokenFile } from "./tokens.ts";

/** The nkey seed file of a NATS user in `credentials.dir`. */
export const nkeyFileOf = (user: NatsUser): string => `nats-${user}.nk`;
/** The nats-server configuration include naming every user (public keys, no secret). */
export const NATS_AUTH_CONF = "nats-auth.conf";
/** Prometheus' web config (`--web.config.file`): its one user and the bcrypt hash of the password. */
export const PROMETHEUS_WEB_CONFIG = "prometheus-web.yml";
/** The user name Prometheus' web UI and API take, with the password in `prometheus-password`. */
export const PROMETHEUS_USER = "flotilla";
/** bcrypt's cost: Prometheus checks the hash on every request (it caches successes), so not more. */
const BCRYPT_ROUNDS = 10;

/** Every credential file of a cluster: its name in `credentials.dir` and what it is for. */
export const CLUSTER_SECRETS: Record<string, string> = {
  "rest-token":
    "admin REST token: reads, and uploads, submits, cancels, stops, savepoints, rescales",
  "rest-read-token": "read-only REST token: every GET",
  "metrics-token": "metrics token: /metrics and /metrics/targets on the health ports (Prometheus)",
  "prometheus-password": `password of Prometheus' web UI and API (user '${PROMETHEUS_USER}')`,
  [PROMETHEUS_WEB_CONFIG]: "Prometheus' web config: its user and the password's bcrypt hash",
  ...Object.fromEntries(NATS_USERS.map((u) => [nkeyFileOf(u), `NATS nkey seed of the ${u} user`])),
  [NATS_AUTH_CONF]: "nats-server users and permissions (public keys only)",
};

export interface ClusterSecrets {
  dir: string;
  clusterId: string;
  /** Each file, by name. */
  files: Record<string, string>;
  /** The files made now (the others were there and are kept). */
  generated: string[];
}

/**
 * Makes the secrets of cluster `clusterId` that `dir` lacks (all of them with `rotate`), keeps
 * the others, and writes the NATS users' configuration for the seeds there are. A file that is
 * there but not valid is an error naming it, not silently replaced.
 */
export function ensureClusterSecrets(
  dir: string,
  { clusterId, rotate = false }: { clusterId: string; rotate?: boolean },
): ClusterSecrets {
  privateDir(dir);
  const files = Object.fromEntries(Object.keys(CLUSTER_SECRETS).map((n) => [n, join(dir, n)]));
  const generated: string[] = [];
  const write = (name: string, text: string) => {
    writeFileSync(files[name]!, text, { mode: 0o644 });
    chmodSync(files[name]!, 0o644);
    generated.push(name);
  };
  for (const name of ["rest-token", "rest-read-token", "metrics-token", "prometheus-password"]) {
    if (!rotate && exists(files[name]!)) readTokenFile(files[name]!, "credentials.dir");
    else write(name, `${generateToken()}\n`);
  }
  // The hash follows the password: made again when the password is new or the config is gone.
  if (generated.includes("prometheus-password") || !exists(files[PROMETHEUS_WEB_CONFIG]!)) {
    const [password] = readTokenFile(files["prometheus-password"]!, "credentials.dir");
    write(PROMETHEUS_WEB_CONFIG, prometheusWebConfig(password!));
  }
  const publicKeys: Partial<Record<NatsUser, string>> = {};
  for (const user of NATS_USERS) {
    const name = nkeyFileOf(user);
    if (!rotate && exists(files[name]!)) publicKeys[user] = publicKeyOf(files[name]!);
    else {
      const pair = nkeys.createUser();
      write(name, `${new TextDecoder().decode(pair.getSeed())}\n`);
      publicKeys[user] = pair.getPublicKey();
    }
  }
  const auth = natsAuthConfig(clusterId, publicKeys);
  const current = exists(files[NATS_AUTH_CONF]!)
    ? readFileSync(files[NATS_AUTH_CONF]!, "utf8")
    : "";
  if (current !== auth) write(NATS_AUTH_CONF, auth);
  return { dir, clusterId, files, generated };
}

/** Prometheus' `--web.config.file`: basic auth with one user, the password's bcrypt hash. */
function prometheusWebConfig(password: string): string {
  const hash = bcrypt.hashSync(password, BCRYPT_ROUNDS);
  return `# Made by flotilla cluster secrets: Prometheus' web UI and API need this user's password\n# (the file prometheus-password next to this one).\nbasic_auth_users:\n  ${PROMETHEUS_USER}: "${hash}"\n`;
}

function publicKeyOf(path: string): string {
  try {
    return nkeys
      .fromSeed(new TextEncoder().encode(readFileSync(path, "utf8").trim()))
      .getPublicKey();
  } catch {
    throw new InvalidConfigError(
      "credentials.dir",
      `${path} does not hold an nkey seed: remove it (or flotilla cluster secrets --rotate) to make a new one`,
    );
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
