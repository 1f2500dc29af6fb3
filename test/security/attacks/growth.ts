/**
 * The attack suite's growth family: 10,000 job submissions and 10,000 artifacts from an admin
 * token, as fast as the cluster answers. Each is accepted or refused with a clear error; what is
 * accepted is bounded by the cluster's limits (the graph-build queue, `blob.max-artifacts`,
 * `jobstore.max-capacity`, the submission and upload gates), never by how much is sent.
 */
import { randomBytes } from "node:crypto";
import type { Attack, RestTarget } from "./rest.ts";
import { flood, restCall } from "./rest.ts";

const describe = (statuses: Map<number, number>) =>
  [...statuses].map(([status, n]) => `${n} x ${status}`).join(", ");

export interface GrowthTarget extends RestTarget {
  /** An uploaded artifact of a job that runs until canceled, and its arguments. */
  artifact: string;
  args: Record<string, string>;
}

export function growthAttacks(target: GrowthTarget): Attack[] {
  const family = "growth";
  return [
    {
      family,
      name: "10,000 job submissions: each accepted or refused 429, the accepted canceled",
      async run(t) {
        const { statuses, answers } = await flood(10_000, 8, () =>
          restCall(target, "POST", "/jobs", {
            body: { artifact: target.artifact, args: target.args, parallelism: 1 },
          }),
        );
        t.comment(`10,000 submissions: ${describe(statuses)}`);
        const accepted = answers.filter((a) => a.status === 202);
        // 503, 409: while the master's renewals lapse under the flood it re-elects itself (a
        // standby refuses, a deposed term's write is fenced); see the issue 14 note.
        const failover = (statuses.get(503) ?? 0) + (statuses.get(409) ?? 0);
        t.equal(
          accepted.length + (statuses.get(429) ?? 0) + failover,
          10_000,
          "every submission accepted (202), refused 429, or refused while the master re-elects",
        );
        const standby = answers.find((a) => a.status === 503);
        if (standby) t.match(standby.body, { code: "UNAVAILABLE" });
        t.ok((statuses.get(429) ?? 0) > 0, "the flood met the bound");
        const refusal = answers.find((a) => a.status === 429);
        t.match(refusal?.body, {
          code: "TOO_MANY_REQUESTS",
          errors: [/in progress already|waiting to be built|being built for|have not ended/],
        });
        const canceled = await flood(accepted.length, 16, (i) =>
          restCall(target, "PATCH", `/jobs/${accepted[i]!.body.jobId as string}?mode=cancel`),
        );
        t.same(
          [...canceled.statuses.keys()].filter((s) => s !== 202 && s !== 409),
          [],
        );
      },
    },
    {
      family,
      name: "10,000 artifacts: the store keeps blob.max-artifacts, collecting unused ones oldest first",
      async run(t) {
        const ids: string[] = [];
        const { statuses, answers } = await flood(10_000, 8, async (i) => {
          const answer = await restCall(target, "POST", "/artifacts", {
            body: new Uint8Array(randomBytes(64)),
          });
          if (answer.status === 201) ids[i] = answer.body.artifact as string;
          return answer;
        });
        t.comment(`10,000 uploads: ${describe(statuses)}`);
        t.same(
          [...statuses.keys()].filter((s) => s !== 201 && s !== 429 && s !== 503),
          [],
          "each stored (201), refused past 4 uploads at once or 20 new a second (429), or while the store is full (503)",
        );
        const busy = answers.find((a) => a.status === 429);
        if (busy)
          t.match(busy.body, {
            errors: [/artifact uploads are in progress|new artifacts a second/],
          });
        const full = answers.find((a) => a.status === 503);
        if (full) t.match(full.body, { code: "NO_RESOURCES", errors: [/blob.max-artifacts/] });
        const stored = ids.filter(Boolean);
        const exists = async (id: string) =>
          (await restCall(target, "GET", `/artifacts/${id}`)).status === 200;
        t.notOk(await exists(stored[0]!), "the first one uploaded was collected");
        t.ok(await exists(stored.at(-1)!), "the last one is there");
        t.ok(await exists(target.artifact), "an artifact a running job uses is never collected");
      },
    },
  ];
}
