/**
 * Artifact collection in the leading Dispatcher: an artifact no unended job refers to is deleted
 * once unused for `blob.artifact-ttl`, and the store holds at most `blob.max-artifacts`.
 */
import { type Clock, ErrorCode, FlotillaError, type Logger, LruCache } from "../core/mod.ts";
import type { BlobInfo } from "../ha/mod.ts";

export interface ArtifactRetentionOptions {
  /** Unused this long, an unreferenced artifact goes (`blob.artifact-ttl`). @default 3600000 */
  ttlMs?: number;
  /** Most artifacts in the store (`blob.max-artifacts`). @default 1000 */
  maxArtifacts?: number;
  /** How often the sweep runs (`blob.service.cleanup.interval`). @default 300000 */
  cleanupIntervalMs?: number;
}

/** Most artifacts one sweep deletes: a sweep never takes long, the next one goes on. */
export const MAX_COLLECTED_PER_SWEEP = 100;
/** While the store is full and a sweep found nothing to collect, uploads wait this long for the next. */
export const FULL_RECHECK_MS = 5000;
/** Artifacts are content-addressed: their keys are sha256 hex; snapshots' keys have slashes. */
const ARTIFACT_KEY = /^[0-9a-f]{64}$/;

export interface ArtifactSweeperDeps {
  blobs: {
    list(prefix?: string): Promise<BlobInfo[]>;
    remove(key: string): Promise<void>;
  };
  /** Artifacts of every job not ended (running, starting, or kept for recovery). */
  inUse(): Promise<Set<string>>;
  clock: Clock;
  log: Logger;
}

export function artifactSweeper(
  { ttlMs = 3_600_000, maxArtifacts = 1000 }: ArtifactRetentionOptions,
  { blobs, inUse, clock, log }: ArtifactSweeperDeps,
) {
  /** A term knows no use before it began: an artifact counts as used then at the latest. */
  const termStart = clock.now();
  const lastUsed = new LruCache<string, number>(maxArtifacts * 2);
  /** Touched since the running sweep listed: not deleted by it. */
  const touchedDuringSweep = new Set<string>();
  /** The artifacts in the store, once listed. */
  let known: Set<string> | undefined;
  /** Admitted uploads not stored yet: they count against the limit too. */
  const reserved = new Set<string>();
  const count = () => (known?.size ?? 0) + [...reserved].filter((k) => !known?.has(k)).length;
  let sweeping: Promise<string[]> | undefined;
  let fullUntil = 0;

  const listArtifacts = async () =>
    (await blobs.list()).filter((blob) => ARTIFACT_KEY.test(blob.key));
  // On this process's clock only: a blob's mtime is the store server's, which may be skewed.
  const lastTouch = (blob: BlobInfo) => lastUsed.peek(blob.key) ?? termStart;

  async function sweepOnce(): Promise<string[]> {
    touchedDuringSweep.clear();
    const artifacts = await listArtifacts();
    known = new Set(artifacts.map((a) => a.key));
    const used = await inUse();
    const now = clock.now();
    const doomed = artifacts
      .filter((a) => !used.has(a.key) && now - lastTouch(a) >= ttlMs)
      .sort((a, b) => lastTouch(a) - lastTouch(b) || a.modified - b.modified)
      .slice(0, MAX_COLLECTED_PER_SWEEP);
    const collected: string[] = [];
    for (const { key } of doomed) {
      // Submitted (or uploaded again) while this sweep ran: in use after all.
      if (touchedDuringSweep.has(key)) continue;
      try {
        await blobs.remove(key);
      } catch (err) {
        log.warn({ artifact: key, err: (err as Error).message }, "collecting an artifact failed");
        continue;
      }
      known.delete(key);
      lastUsed.delete(key);
      collected.push(key);
    }
    if (collected.length > 0)
      log.info({ artifacts: collected.length, ttlMs }, "unused artifacts collected");
    return collected;
  }

  return {
    ttlMs,
    maxArtifacts,

    /** The artifact is in use now (uploaded, submitted, or its job ended): its TTL starts again. */
    touch(artifact: string): void {
      lastUsed.set(artifact, clock.now());
      touchedDuringSweep.add(artifact);
    },

    /** Deletes unreferenced artifacts past the TTL, oldest first; one sweep at a time. */
    sweep(): Promise<string[]> {
      sweeping ??= sweepOnce().finally(() => {
        sweeping = undefined;
      });
      return sweeping;
    },

    /**
     * Makes room for a new artifact: a sweep when the store is full, then NO_RESOURCES if every
     * artifact is still in use or too recent. Reserves its place until `settle`.
     */
    async admit(artifact: string): Promise<void> {
      known ??= new Set((await listArtifacts()).map((a) => a.key));
      if (known.has(artifact) || reserved.has(artifact)) return;
      // Full and nothing collectable a moment ago: refused without listing the store again, so
      // a flood of uploads costs one sweep per FULL_RECHECK_MS, not one per upload.
      if (count() >= maxArtifacts && clock.now() >= fullUntil) {
        await this.sweep();
        if (count() >= maxArtifacts) fullUntil = clock.now() + FULL_RECHECK_MS;
      }
      if (count() >= maxArtifacts)
        throw new FlotillaError(
          ErrorCode.NO_RESOURCES,
          `the blob store holds ${count()} artifacts, the most blob.max-artifacts (${maxArtifacts}) allows, and none is unused for blob.artifact-ttl (${ttlMs} ms): try again when jobs end, or raise the limit`,
        );
      reserved.add(artifact);
    },

    /** An admitted upload ended: stored (it counts as in the store) or not. */
    settle(artifact: string, { stored }: { stored: boolean }): void {
      reserved.delete(artifact);
      if (stored) known?.add(artifact);
    },
  };
}

export type ArtifactSweeper = ReturnType<typeof artifactSweeper>;
