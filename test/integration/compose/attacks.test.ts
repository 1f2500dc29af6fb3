/**
 * The attack suite's REST families against the compose session layout as the README starts it
 * (`flotilla cluster up --layout session`: tokens, NATS users, confined containers, TaskManagers
 * the docker driver starts through docker-proxy), with an exactly-once job running throughout:
 * each attack is refused with a clear error or absorbed, the Dispatcher answers after each, and
 * the job ends with no alert and exact counts. (NATS is not published by the compose layouts:
 * its families run against the process cluster, test/security/attacks.test.ts.)
 */
import { readFileSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { join } from "node:path";
import t from "tap";
import { isJobEnd, JobState } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import { restAttacks, restCall } from "../../security/attacks/rest.ts";
import { sessionStack } from "../../support/compose.ts";
import { ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { TEST_TOKEN } from "../../support/rest_token.ts";
import { exactlyOnce } from "../../support/sequence.ts";

t.setTimeout(900_000);

const d = await ensureDocker();
const port = await freePort();
const { credentials, session } = sessionStack(t, "attacks", port, d.composeEnv);

const up = await session("up", "--json");
if (up.code !== 0) throw new Error(`cluster up failed: ${up.stderr}`);
// The attacker (this process) would run on a machine of its own: it yields the cores.
setPriority(Math.min(19, getPriority() + 10));
const readToken = readFileSync(join(credentials, "rest-read-token"), "utf8").trim();
const base = { rest: `http://127.0.0.1:${port}`, adminToken: TEST_TOKEN, readToken, jobId: "" };

const KEYS = 4;
const PER_KEY = 20_000;
const bundle = new Uint8Array(await bundleJob("examples/sequence-check.ts"));
const artifact = (await restCall(base, "POST", "/artifacts", { body: bundle })).body
  .artifact as string;
const submitted = await restCall(base, "POST", "/jobs", {
  body: { artifact, args: { keys: String(KEYS), perKey: String(PER_KEY), rate: "1000" } },
});
const jobId = submitted.body.jobId as string;
const target = { ...base, jobId };
const state = async () => (await restCall(target, "GET", `/jobs/${jobId}`)).body;
await until(async () => (await state()).state === JobState.RUNNING, "the job to run", {
  timeoutMs: 120_000,
  intervalMs: 250,
});

t.test(
  "REST attacks on the compose session layout, with an exactly-once job running",
  async (t) => {
    for (const attack of restAttacks(target)) {
      await t.test(`${attack.family}: ${attack.name}`, async (t) => {
        await attack.run(t);
        t.equal((await restCall(target, "GET", "/overview")).status, 200, "the Dispatcher answers");
        t.match(await state(), { flotilla: { restarts: 0 } }, "the job did not restart");
      });
    }
  },
);

t.test("the job ends exactly once", async (t) => {
  const ended = await until(
    async () => {
      const details = await state();
      return isJobEnd(details.state as JobState) && details;
    },
    "the job to end",
    { timeoutMs: 300_000, intervalMs: 500 },
  );
  t.match(ended, { state: JobState.FINISHED, flotilla: { restarts: 0 } });
  const results = await restCall(target, "GET", `/jobs/${jobId}/results`);
  exactlyOnce(t, results.body as Record<string, unknown[]>, KEYS, PER_KEY);
});
