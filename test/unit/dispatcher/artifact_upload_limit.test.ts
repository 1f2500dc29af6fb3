/**
 * POST /artifacts refuses (413) a body over MAX_ARTIFACT_BYTES before holding more than the
 * limit: an endless streamed body (no Content-Length) is read only until it passes the limit.
 */
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { MAX_ARTIFACT_BYTES } from "../../../components/protocol/mod.ts";

const mini = await startMiniCluster();
t.teardown(() => mini.stop());

t.test("an endless upload is cut off just past the limit", async (t) => {
  const chunk = new Uint8Array(1024 * 1024);
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(chunk);
    },
  });
  const res = await mini.rest.request("/artifacts", {
    method: "POST",
    body: endless,
    duplex: "half",
  } as RequestInit);
  t.equal(res.status, 413);
  t.match(await res.json(), {
    code: "PAYLOAD_TOO_LARGE",
    errors: [new RegExp(`limit of ${MAX_ARTIFACT_BYTES} bytes`)],
  });
  const limitChunks = MAX_ARTIFACT_BYTES / chunk.byteLength;
  t.ok(
    pulled <= limitChunks + 2,
    `read ${pulled} MiB of an endless body, the limit is ${limitChunks}`,
  );
});

t.test("a declared Content-Length over the limit is refused unread", async (t) => {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new Uint8Array(1));
    },
  });
  const res = await mini.rest.request("/artifacts", {
    method: "POST",
    body,
    duplex: "half",
    headers: { "content-length": String(MAX_ARTIFACT_BYTES + 1) },
  } as RequestInit);
  t.equal(res.status, 413);
  t.ok(pulled <= 1, "nothing (or the stream's first pull) was read");
});
