/**
 * Configuration in two stages: `ConfigOptions` (what flags, env and a file say) ->
 * `compileConfig()` validates every key once and fills defaults, returning a frozen `Config`.
 * Precedence: flags > `FLOTILLA_*` environment > config file > defaults. The keys are in
 * config_keys.ts.
 */
import { readFileSync } from "node:fs";
import { type Config, type ConfigKey, configKeys } from "./config_keys.ts";
import { InvalidConfigError } from "./errors.ts";

export { type Config, type ConfigKey, configKeys } from "./config_keys.ts";

export interface ConfigOptions {
  /** Values from command-line flags, by key. Highest precedence. */
  flags?: Partial<Record<string, unknown>>;
  /**
   * The environment to read `FLOTILLA_*` variables from.
   * @default process.env (Node and Deno)
   */
  env?: Record<string, string | undefined>;
  /** A JSON config file path, or its parsed content. @default env FLOTILLA_CONFIG, if set */
  file?: string | Record<string, unknown>;
}

/** `heartbeat.interval` -> `FLOTILLA_HEARTBEAT_INTERVAL`. */
export function envName(configKey: string): string {
  return `FLOTILLA_${configKey.toUpperCase().replace(/[.-]/g, "_")}`;
}

const KNOWN_KEYS = Object.keys(configKeys) as ConfigKey[];

function checkKnown(source: string, values: Record<string, unknown>): void {
  for (const k of Object.keys(values)) {
    if (!(k in configKeys)) {
      throw new InvalidConfigError(
        k,
        `unknown config key '${k}' in ${source}; known keys: ${KNOWN_KEYS.join(", ")}`,
      );
    }
  }
}

function readFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InvalidConfigError(
      "config",
      `cannot read config file ${path}: ${(err as Error).message}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidConfigError(
      "config",
      `config file ${path} is not valid JSON: ${(err as Error).message}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidConfigError(
      "config",
      `config file ${path} must hold a JSON object of key: value`,
    );
  }
  return parsed as Record<string, unknown>;
}

export function compileConfig({
  flags = {},
  env = processEnv(),
  file,
}: ConfigOptions = {}): Config {
  const filePath = file ?? env.FLOTILLA_CONFIG;
  const fromFile = typeof filePath === "string" ? readFile(filePath) : (filePath ?? {});
  const fileSource = typeof filePath === "string" ? `config file ${filePath}` : "config file";
  checkKnown(fileSource, fromFile);
  const definedFlags = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
  checkKnown("flags", definedFlags);

  const out: Record<string, unknown> = {};
  for (const k of KNOWN_KEYS) {
    const spec = configKeys[k];
    const name = envName(k);
    let source = "default";
    let raw: unknown = spec.default;
    if (k in definedFlags) [source, raw] = [`flag --${k}`, definedFlags[k]];
    else if (env[name] !== undefined) [source, raw] = [`env ${name}`, env[name]];
    else if (k in fromFile) [source, raw] = [fileSource, fromFile[k]];
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => i.message).join("; ");
      throw new InvalidConfigError(
        k,
        `invalid value ${JSON.stringify(raw)} for config key '${k}' (from ${source}): ${why}`,
      );
    }
    out[k] = parsed.data;
  }
  return Object.freeze(out) as Config;
}

function processEnv(): Record<string, string | undefined> {
  return (
    (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {}
  );
}

export interface ConfigKeyReference {
  key: ConfigKey;
  env: string;
  default: unknown;
  doc: string;
}

/**
 * The environment that sets these keys in a child process (whose `compileConfig` reads it): how a
 * parent hands its own settings, or a TaskManager's id and profile, to the processes it starts.
 */
export function configEnv(
  values: { readonly [K in ConfigKey]?: string | number },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, value] of Object.entries(values)) {
    if (value !== undefined) env[envName(k)] = String(value);
  }
  return env;
}

/** Every key with its env name, default and description, for docs and `flotilla config`. */
export function configReference(): ConfigKeyReference[] {
  return KNOWN_KEYS.map((k) => ({
    key: k,
    env: envName(k),
    default: configKeys[k].default,
    doc: configKeys[k].doc,
  }));
}
