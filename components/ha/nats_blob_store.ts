/**
 * Blobs in the cluster's JetStream Object Store (`flotilla_<clusterId>_blobs`): job artifacts by
 * content address and state snapshots by key. The object store chunks large blobs (128 KiB, or
 * max_payload if smaller) and checks their sha256 on read.
 */
import { jetstream } from "@nats-io/jetstream";
import { type ObjectStore, Objm } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/transport-node";
import { blobBucketName, ErrorCode, NotFoundError } from "../core/mod.ts";
import { natsCall } from "./nats_call.ts";
import { requireString } from "./records.ts";
import { sha256Hex } from "./sha256.ts";
import type { BlobStore } from "./types.ts";

export interface NatsBlobStoreOptions {
  nc: NatsConnection;
  /** Names the bucket: `flotilla_<clusterId>_blobs`. */
  clusterId: string;
  /** Deadline of one call, retries included (a large blob takes a while). @default 30000 */
  timeoutMs?: number;
  /** Deadline of each request to JetStream within a call (one chunk, one lookup). @default 2000 */
  requestMs?: number;
}

export async function natsBlobStore({
  nc,
  clusterId,
  timeoutMs = 30_000,
  requestMs = 2000,
}: NatsBlobStoreOptions): Promise<BlobStore> {
  const name = blobBucketName(clusterId);
  const location = `nats object store ${name}`;
  const os: ObjectStore = await natsCall(
    () => new Objm(jetstream(nc, { timeout: requestMs })).create(name),
    {
      what: `open object store ${name}`,
      timeoutMs: Math.max(timeoutMs, requestMs),
      attemptMs: requestMs,
    },
  );
  const call = <T>(what: string, attempt: () => Promise<T>) =>
    natsCall(attempt, { what: `${what} (${location})`, timeoutMs });
  const has = (key: string) =>
    call(`look up blob ${key}`, async () => {
      const info = await os.info(requireString(key, "blob key"));
      return info !== null && !info.deleted;
    });
  const putKey = async (key: string, bytes: Uint8Array): Promise<void> => {
    requireString(key, "blob key");
    await call(`put blob ${key} (${bytes.byteLength} bytes)`, () =>
      os.putBlob({ name: key }, bytes, { timeout: requestMs }),
    );
  };
  return {
    location,
    async put(bytes) {
      const address = await sha256Hex(bytes);
      if (!(await has(address))) await putKey(address, bytes);
      return address;
    },
    putKey,
    async get(key) {
      requireString(key, "blob key");
      const bytes = await call(`get blob ${key}`, () => os.getBlob(key));
      if (!bytes) throw new NotFoundError(ErrorCode.NOT_FOUND, `no blob ${key} in ${location}`);
      return bytes;
    },
    has,
    async delete(prefix) {
      requireString(prefix, "blob key prefix");
      const all = await call("list blobs", () => os.list());
      const doomed = all.filter((info) => !info.deleted && info.name.startsWith(prefix));
      for (const info of doomed) await call(`delete blob ${info.name}`, () => os.delete(info.name));
      return doomed.length;
    },
    async deleteKey(key) {
      if (!(await has(key))) return false;
      await call(`delete blob ${key}`, () => os.delete(key));
      return true;
    },
    async list(prefix = "") {
      const all = await call("list blobs", () => os.list());
      return all
        .filter((info) => !info.deleted && info.name.startsWith(prefix))
        .map((info) => ({ key: info.name, size: info.size, modified: Date.parse(info.mtime) }));
    },
  };
}
