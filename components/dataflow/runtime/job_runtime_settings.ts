/**
 * The settings a job reaches without a config in hand (env.secret's directory, the artifact
 * cache), set once by the process's entrypoint from its compiled config: the runtime itself reads
 * no environment.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, configKeys } from "../../core/mod.ts";

export interface JobRuntimeSettings {
  /** Where `env.secret(name)` reads from (`secrets.dir`). */
  readonly secretsDir: string;
  /** Where loaded artifacts are cached by hash (`artifact.cache-dir`). */
  readonly artifactCacheDir: string;
  /** Most values a collect sink's subtask holds before a commit (`collect-sink.max-records`). */
  readonly collectMaxRecords: number;
}

type SettingKeys = "secrets.dir" | "artifact.cache-dir";
/** Settings a process may leave out (a job process): the key's default holds. */
type OptionalKeys = "collect-sink.max-records";

function settingsFrom(
  config: Pick<Config, SettingKeys> & Partial<Pick<Config, OptionalKeys>>,
): JobRuntimeSettings {
  return {
    collectMaxRecords:
      config["collect-sink.max-records"] ?? Number(configKeys["collect-sink.max-records"].default),
    secretsDir: config["secrets.dir"],
    // Per user: the cache must be private to whoever imports from it (artifact.ts checks it).
    artifactCacheDir:
      config["artifact.cache-dir"] ||
      join(tmpdir(), `flotilla-artifacts-${currentUid() ?? "user"}`),
  };
}

let current = settingsFrom({
  "secrets.dir": configKeys["secrets.dir"].default,
  "artifact.cache-dir": configKeys["artifact.cache-dir"].default,
});

export function jobRuntimeSettings(): JobRuntimeSettings {
  return current;
}

/**
 * Takes this process's settings from its config. Process-wide because jobs call `env.secret()`
 * and artifacts load deep inside blocks that carry no config; until called, the keys' defaults hold.
 */
export function configureJobRuntime(
  config: Pick<Config, SettingKeys> & Partial<Pick<Config, OptionalKeys>>,
): void {
  current = settingsFrom(config);
}

/** This process's user id; undefined where there is none (Windows) or it may not be read (Deno without --allow-sys=uid). */
export function currentUid(): number | undefined {
  try {
    return process.getuid?.();
  } catch {
    return undefined;
  }
}
