/**
 * A compose cluster's credentials, generated once per cluster on the machine that starts it
 * (`flotilla cluster secrets`, and `flotilla cluster up` before it starts a layout) into
 * `credentials.dir`, which the compose files mount as compose secrets (files under /run/secrets,
 * named in no environment value and shown by no `docker inspect`). The directory is this user's
 * only (0700); the files in it are 0644 so that the containers' non-root user can read the ones
 * bind-mounted into them, while nobody else on this machine can reach them.
 */
import { chmodSync, lstatSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateToken, privateDir, readTokenFile } from "./tokens.ts";

/** Every credential file of a cluster: its name in `credentials.dir` and what it is for. */
export const CLUSTER_SECRETS = {
  "rest-token":
    "admin REST token: reads, and uploads, submits, cancels, stops, savepoints, rescales",
  "rest-read-token": "read-only REST token: every GET",
} as const;
export type ClusterSecret = keyof typeof CLUSTER_SECRETS;

export interface ClusterSecrets {
  dir: string;
  /** Each secret's file. */
  files: Record<ClusterSecret, string>;
  /** The secrets made now (the others were there and are kept). */
  generated: ClusterSecret[];
}

/**
 * Makes the secrets `dir` lacks (all of them with `rotate`), keeps the others. A file that is
 * there but not a valid token is an error naming it, not silently replaced.
 */
export function ensureClusterSecrets(
  dir: string,
  { rotate = false }: { rotate?: boolean } = {},
): ClusterSecrets {
  privateDir(dir);
  const names = Object.keys(CLUSTER_SECRETS) as ClusterSecret[];
  const files = Object.fromEntries(names.map((name) => [name, join(dir, name)])) as Record<
    ClusterSecret,
    string
  >;
  const generated: ClusterSecret[] = [];
  for (const name of names) {
    const file = files[name];
    if (!rotate && exists(file)) {
      readTokenFile(file, "credentials.dir");
      continue;
    }
    writeFileSync(file, `${generateToken()}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    generated.push(name);
  }
  return { dir, files, generated };
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
