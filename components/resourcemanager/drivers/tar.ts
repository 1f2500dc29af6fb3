/**
 * A minimal POSIX ustar writer: the archive the Docker Engine's `PUT /containers/{id}/archive`
 * takes, so the docker driver can hand files (credentials) to a container without an env value.
 */
import { posix } from "node:path";
import { InvalidArgumentError } from "../../core/mod.ts";

export interface TarEntry {
  /** Relative path in the archive (`run/secrets/x`); a directory's may end with `/`. At most 100 bytes. */
  path: string;
  /** Permission bits, e.g. 0o400. */
  mode: number;
  /** @default 0 */
  uid?: number;
  /** @default 0 */
  gid?: number;
  /** Seconds since the epoch. @default 0 */
  mtime?: number;
  /** The file's bytes; absent for a directory. */
  content?: Uint8Array;
}

const BLOCK = 512;
const encoder = new TextEncoder();

/** Writes `value` as zero-padded octal in `width - 1` digits and a NUL, as ustar wants. */
function writeOctal(header: Uint8Array, at: number, width: number, value: number, what: string) {
  const digits = value.toString(8);
  if (!Number.isSafeInteger(value) || value < 0 || digits.length > width - 1) {
    throw new InvalidArgumentError(
      `tar: ${what} ${value} does not fit a ustar header (${width - 1} octal digits)`,
    );
  }
  header.set(encoder.encode(digits.padStart(width - 1, "0")), at);
}

function header(entry: TarEntry): Uint8Array {
  const isDir = entry.content === undefined;
  const path = isDir && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
  const name = encoder.encode(path);
  if (!entry.path) throw new InvalidArgumentError("tar: an entry has an empty path");
  if (name.length > 100) {
    throw new InvalidArgumentError(
      `tar: path "${path}" is ${name.length} bytes; this writer takes at most 100 (no ustar prefix field)`,
    );
  }
  const h = new Uint8Array(BLOCK);
  h.set(name, 0);
  writeOctal(h, 100, 8, entry.mode, `mode of ${path}`);
  writeOctal(h, 108, 8, entry.uid ?? 0, `uid of ${path}`);
  writeOctal(h, 116, 8, entry.gid ?? 0, `gid of ${path}`);
  writeOctal(h, 124, 12, entry.content?.length ?? 0, `size of ${path}`);
  writeOctal(h, 136, 12, entry.mtime ?? 0, `mtime of ${path}`);
  h[156] = (isDir ? "5" : "0").charCodeAt(0);
  h.set(encoder.encode("ustar\u000000"), 257);
  // The checksum is summed with its own field as eight spaces.
  h.fill(0x20, 148, 156);
  const sum = h.reduce((total, byte) => total + byte, 0);
  h.set(encoder.encode(`${sum.toString(8).padStart(6, "0")}\u0000 `), 148);
  return h;
}

/** One ustar archive of `entries`, in order: headers, contents padded to 512, two zero blocks. */
export function tarArchive(entries: TarEntry[]): Uint8Array {
  const parts = entries.map((entry) => {
    const size = entry.content?.length ?? 0;
    const part = new Uint8Array(BLOCK + Math.ceil(size / BLOCK) * BLOCK);
    part.set(header(entry), 0);
    if (entry.content) part.set(entry.content, BLOCK);
    return part;
  });
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0) + 2 * BLOCK);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A file to put in a container: absolute path, bytes, permission bits. */
export interface ContainerFile {
  path: string;
  content: Uint8Array;
  /** @default 0o400 */
  mode?: number;
}

/**
 * One archive, to extract at `under` (every file must be below it), that puts `files` at their
 * paths owned by `uid`:`gid`, each after its parent directories below `under` (root's, 0755, like
 * compose's /run/secrets: the owner can read its file but not add or swap files beside it).
 */
export function archiveOfFiles(
  files: ContainerFile[],
  { uid = 1000, gid = 1000 } = {},
  under = "/",
) {
  const prefix = under.endsWith("/") ? under : `${under}/`;
  const base = prefix === "/" ? "/" : prefix.slice(0, -1);
  const dirs = new Set<string>();
  const seen = new Set<string>();
  const entries: TarEntry[] = [];
  for (const file of files) {
    const path = file.path;
    if (!posix.isAbsolute(path) || posix.normalize(path) !== path || path.endsWith("/")) {
      throw new InvalidArgumentError(
        `a container file's path must be absolute and normal (like /run/secrets/x), not "${path}"`,
      );
    }
    if (seen.has(path)) throw new InvalidArgumentError(`the container file ${path} is given twice`);
    if (!path.startsWith(prefix)) {
      throw new InvalidArgumentError(`the container file ${path} is not under ${prefix}`);
    }
    seen.add(path);
    const parents: string[] = [];
    for (let dir = posix.dirname(path); dir !== base; dir = posix.dirname(dir)) {
      parents.unshift(dir);
    }
    for (const dir of parents.filter((d) => !dirs.has(d))) {
      dirs.add(dir);
      entries.push({ path: dir.slice(prefix.length), mode: 0o755 });
    }
    const mode = file.mode ?? 0o400;
    entries.push({ path: path.slice(prefix.length), mode, uid, gid, content: file.content });
  }
  return tarArchive(entries);
}
