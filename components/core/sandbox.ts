/**
 * How flotilla starts a process that runs user code under Node's permission model (the
 * Dispatcher's graph sandbox, a TaskManager's job processes): the flag this Node spells it with,
 * the code such a process may read (the installed package around the executable), and the job
 * secrets it may read (a secrets directory less the cluster's own credentials).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { isClusterCredentialName } from "./names.ts";

/** `--permission` from Node 22.13/23.5 on, `--experimental-permission` before. */
export function permissionFlag(): string {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 13) ? "--permission" : "--experimental-permission";
}

/** The installed flotilla package around `entry` (its code and dependencies), if there is one. */
export function packageRootOf(entry: string): string | undefined {
  for (let dir = dirname(entry), i = 0; i < 3; dir = dirname(dir), i++) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    try {
      if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "flotilla")
        return dir;
    } catch {
      // not a package manifest we can read: keep looking
    }
  }
  return undefined;
}

/** The job secrets in `dir`: its files, less the cluster's own credentials. */
export function jobSecretFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => !isClusterCredentialName(name))
    .map((name) => join(dir, name))
    .filter((path) => {
      try {
        return statSync(path).isFile();
      } catch {
        return false;
      }
    });
}
