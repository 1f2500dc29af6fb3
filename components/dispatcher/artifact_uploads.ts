/**
 * `POST /artifacts`: a bundled job stored once by its sha256, new ones rate-limited (each is a
 * blob-store write and may start a sweep past `blob.max-artifacts`).
 */
import { ErrorCode, FlotillaError, RateLimit } from "../core/mod.ts";
import { artifactHash } from "../dataflow/internal_mod.ts";
import type { ArtifactUploaded } from "../protocol/mod.ts";
import type { ArtifactSweeper } from "./artifact_sweeper.ts";
import type { DispatcherStores } from "./types.ts";

/** New artifacts stored a second (a bundled job is uploaded once, then submitted by its id). */
const NEW_ARTIFACTS_PER_SECOND = 20;

export function artifactUploads(blobs: DispatcherStores["blobs"], artifacts: ArtifactSweeper) {
  const newArtifacts = new RateLimit(
    NEW_ARTIFACTS_PER_SECOND,
    NEW_ARTIFACTS_PER_SECOND,
    "new artifacts",
  );
  return async function uploadArtifact(bytes: Uint8Array): Promise<ArtifactUploaded> {
    if (bytes.byteLength === 0)
      throw new FlotillaError(
        ErrorCode.BAD_REQUEST,
        "the artifact is empty: send the bundled job as the request body",
      );
    const hash = await artifactHash(bytes);
    artifacts.touch(hash);
    const exists = await blobs.has(hash);
    if (exists) return { artifact: hash, size: bytes.byteLength, created: false };
    newArtifacts.take();
    await artifacts.admit(hash);
    let stored = false;
    try {
      await blobs.put(bytes);
      stored = true;
    } finally {
      artifacts.settle(hash, { stored });
    }
    return { artifact: hash, size: bytes.byteLength, created: true };
  };
}
