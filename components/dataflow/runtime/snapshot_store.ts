/**
 * Where snapshots live: a key-value store of blobs (memory for the embedded MiniCluster and
 * tests, a directory on disk for local runs; the JetStream object store arrives with the
 * cluster), and the completed-checkpoint metadata that points at them.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ErrorCode, FlotillaError, SNAPSHOT_METADATA } from "../../core/mod.ts";

export interface SnapshotStore {
  /** Where the store is, for people: a directory, or "memory". */
  readonly location: string;
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Deletes every key under `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Deletes exactly `keys` (a checkpoint's handles) without listing the store, where listing
   * costs in proportion to everything stored (an object store). @default by prefix
   */
  deleteKeys?(keys: readonly string[]): Promise<void>;
}

/** Everything needed to restore a job: the snapshot handle of every subtask of every vertex. */
export interface CompletedCheckpoint {
  jobId: string;
  jobName: string;
  checkpointId: number;
  timestamp: number;
  savepoint: boolean;
  vertices: Record<string, { parallelism: number; maxParallelism: number; handles: string[] }>;
}

export function memorySnapshotStore(): SnapshotStore {
  const blobs = new Map<string, Uint8Array>();
  return {
    location: "memory",
    put: async (key, bytes) => {
      blobs.set(key, bytes);
    },
    get: async (key) => blobs.get(key),
    deletePrefix: async (prefix) => {
      // A prefix is a directory: deleting checkpoints/j/3 leaves checkpoints/j/30 alone.
      const dir = prefix.endsWith("/") ? prefix : `${prefix}/`;
      for (const key of [...blobs.keys()])
        if (key === prefix || key.startsWith(dir)) blobs.delete(key);
    },
  };
}

const SAFE_KEY = /^[A-Za-z0-9_./-]+$/;

export function fileSnapshotStore(directory: string): SnapshotStore {
  const root = resolve(directory);
  const pathOf = (key: string) => {
    if (!SAFE_KEY.test(key) || key.split("/").includes("..")) {
      throw new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `bad snapshot key ${JSON.stringify(key)}`,
      );
    }
    return join(root, key);
  };
  return {
    location: root,
    async put(key, bytes) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      // Write then rename, so a crash never leaves half a snapshot under the final name.
      await writeFile(`${path}.tmp`, bytes);
      await rename(`${path}.tmp`, path);
    },
    async get(key) {
      try {
        return new Uint8Array(await readFile(pathOf(key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
    },
    async deletePrefix(prefix) {
      const path = pathOf(prefix.replace(/\/$/, ""));
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** Reads a savepoint (or retained checkpoint) by its path inside the store, e.g. `savepoints/<job>/<id>`. */
export async function loadCheckpoint(
  store: SnapshotStore,
  path: string,
): Promise<CompletedCheckpoint> {
  const key = `${path.replace(/\/+$/, "")}/${SNAPSHOT_METADATA}`;
  let bytes: Uint8Array | undefined;
  try {
    bytes = await store.get(key);
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `cannot read savepoint ${path}: ${(err as Error).message}`,
    );
  }
  if (!bytes) {
    throw new FlotillaError(
      ErrorCode.NOT_FOUND,
      `no savepoint at ${path} in ${store.location}: check the path 'flotilla savepoint' printed`,
    );
  }
  return JSON.parse(new TextDecoder().decode(bytes)) as CompletedCheckpoint;
}

export async function listDirectory(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}
