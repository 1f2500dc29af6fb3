/**
 * Secret files on this machine: reading a token file (one token per line, so an old and a new one
 * can both hold while clients move over), generating a token, and writing one where only its
 * owner can read it. Secrets live in files, never in flags, environment values or logs.
 */
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  type Stats,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { type Config, InvalidConfigError } from "../core/mod.ts";

/** What a bearer token may hold (RFC 6750's token68), at a length that cannot be guessed. */
const TOKEN = /^[A-Za-z0-9._~+/-]{16,512}=*$/;
/** A token file is a few lines; anything bigger is not one. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/** 32 random bytes as base64url: 43 characters a header, a file and a shell all take as they are. */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The tokens in `path` (config key `configKey`): one per line, blank lines and `#` comments
 * skipped. A missing, oversized, empty or malformed file is an InvalidConfigError naming the key
 * and the file, never the file's content.
 */
export function readTokenFile(path: string, configKey: string): string[] {
  let text: string;
  try {
    const stat = statSync(path);
    // A FIFO or a device says size 0 and never ends.
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > MAX_TOKEN_FILE_BYTES)
      throw new Error(`larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InvalidConfigError(
      configKey,
      `cannot read the token file ${path} (config key '${configKey}'): ${(err as Error).message}`,
    );
  }
  const tokens = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (tokens.length === 0)
    throw new InvalidConfigError(
      configKey,
      `the token file ${path} (config key '${configKey}') holds no token`,
    );
  const bad = tokens.findIndex((token) => !TOKEN.test(token));
  if (bad >= 0)
    throw new InvalidConfigError(
      configKey,
      `token ${bad + 1} in ${path} (config key '${configKey}') is not a bearer token: 16 to 512 letters, digits and ._~+/- (flotilla cluster secrets makes good ones)`,
    );
  return tokens;
}

/** `~/.flotilla/<cluster.id>`, or `credentials.dir` when set. */
export function credentialsDir(config: Config): string {
  return config["credentials.dir"] || join(homedir(), ".flotilla", config["cluster.id"]);
}

/** The file a server writes its generated admin token to, and the CLI looks for. */
export function generatedTokenFile(config: Config): string {
  return join(credentialsDir(config), "rest-token");
}

/**
 * Makes `dir` (and its parents) and checks that it is a directory of this user that nobody else
 * may enter: a file only its owner may read is safe only in such a directory.
 */
export function privateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new InvalidConfigError(
      "credentials.dir",
      `cannot make the credentials directory ${dir}: ${(err as Error).message}`,
    );
  }
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid))
    throw new InvalidConfigError(
      "credentials.dir",
      `${dir} is not a directory of this user: refusing to keep credentials there`,
    );
  if ((stat.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * The first token of `path` if the file exists; else a fresh token written there with `mode`
 * (in a private directory). Returns the token and whether it was generated now.
 */
export function ensureTokenFile(
  path: string,
  { mode = 0o600, configKey = "credentials.dir" }: { mode?: number; configKey?: string } = {},
): { token: string; generated: boolean } {
  privateDir(dirname(path));
  const found = entryAt(path);
  if (found && !found.isFile())
    throw new InvalidConfigError(
      configKey,
      `${path} is not a regular file (a symlink?): refusing to keep a token there`,
    );
  if (found) {
    // Ours: whatever loosened it, it is tightened again.
    if ((found.mode & 0o777) !== mode) chmodSync(path, mode);
    return { token: readTokenFile(path, configKey)[0]!, generated: false };
  }
  const token = generateToken();
  try {
    // "wx": never through a symlink or over a file that appeared meanwhile.
    writeFileSync(path, `${token}\n`, { mode, flag: "wx" });
  } catch (err) {
    // Another process of this cluster on this machine generated it first: take that one.
    if ((err as NodeJS.ErrnoException).code === "EEXIST" && entryAt(path)?.isFile())
      return { token: readTokenFile(path, configKey)[0]!, generated: false };
    throw new InvalidConfigError(
      configKey,
      `cannot write the token file ${path}: ${(err as Error).message}`,
    );
  }
  chmodSync(path, mode);
  return { token, generated: true };
}

function entryAt(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
