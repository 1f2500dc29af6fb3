/**
 * Artifacts on a MiniCluster with a manual clock: at most `blob.max-artifacts` (an upload past
 * it collects unused ones past `blob.artifact-ttl`, or is refused 503), the periodic sweep deletes
 * unused ones past the TTL, and an artifact a running job uses is never collected until it ends.
 */
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import type { ArtifactUploaded } from "../../../components/protocol/mod.ts";
import { unwrap } from "../../../components/rpc/mod.ts";
import { ManualClock } from "../../support/clock.ts";
import { ENDED, miniRest } from "../../support/mini.ts";
import { until } from "../../support/poll.ts";

const TTL_MS = 10_000;
const CLEANUP_MS = 30_000;
const clock = new ManualClock();
const mini = await startMiniCluster({
  dispatcher: {
    artifacts: { ttlMs: TTL_MS, maxArtifacts: 3, cleanupIntervalMs: CLEANUP_MS },
    clock,
  },
});
t.teardown(() => mini.stop());
const rest = miniRest(mini);

const upload = async (bytes: Uint8Array) => rest.call("POST", "/artifacts", bytes);
const uploaded = async (bytes: Uint8Array) => {
  const res = await upload(bytes);
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as ArtifactUploaded).artifact;
};
const stored = async (artifact: string) =>
  (await rest.call("GET", `/artifacts/${artifact}`)).status === 200;
/** Bytes the Dispatcher stores without building (only a submission builds an artifact). */
const blob = (name: string) => new TextEncoder().encode(`// not a job: ${name}\n`);

t.test("the store's bound, the TTL and the sweep; a running job's artifact stays", async (t) => {
  const endless = new Uint8Array(await bundleJob("test/support/jobs/endless.ts"));
  const running = await uploaded(endless);
  const { jobId } = await unwrap(mini.client.jobs.$post({ json: { artifact: running, args: {} } }));
  await rest.until("the endless job runs", jobId, (d) => d.state === JobState.RUNNING);
  const b = await uploaded(blob("b"));
  const c = await uploaded(blob("c"));

  const full = await upload(blob("d"));
  t.equal(full.status, 503, "a fourth artifact while none is past its TTL");
  t.match(full.body, {
    code: "NO_RESOURCES",
    errors: [/3 artifacts.*blob\.max-artifacts \(3\).*blob\.artifact-ttl/],
  });
  t.equal((await upload(blob("b"))).status, 200, "one the store has is still accepted");

  await clock.advance(TTL_MS);
  const d = await uploaded(blob("d"));
  t.notOk(await stored(b), "the upload collected b, unused past its TTL");
  t.notOk(await stored(c), "and c");
  t.ok(await stored(running), "the running job's artifact stays");
  t.ok(await stored(d));

  // The periodic sweep, no upload: d goes once unused past its TTL, the job's artifact stays.
  await clock.advance(CLEANUP_MS);
  await until(async () => !(await stored(d)), "the sweep collected d");
  t.ok(await stored(running), "still in use: kept past its TTL");

  await unwrap(
    mini.client.jobs[":jobid"].$patch({ param: { jobid: jobId }, query: { mode: "cancel" } }),
  );
  await rest.until("the endless job ended", jobId, ENDED);
  await clock.advance(CLEANUP_MS);
  await until(async () => !(await stored(running)), "the ended job's artifact collected");
  const res = await unwrap(mini.client.jobs.$post({ json: { artifact: running, args: {} } })).then(
    () => "submitted",
    (err: { code?: string; message: string }) => `${err.code}: ${err.message}`,
  );
  t.match(res, /NOT_FOUND: artifact .* upload it/, "a collected artifact must be uploaded again");
});
