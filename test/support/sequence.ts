/**
 * The exactly-once verdict on a sequence-check run (examples/sequence-check.ts): no alert (no
 * record lost or seen twice) and every key counted exactly `perKey` times, from the job's
 * collected results (REST `GET /jobs/:id/results`, or the CLI's `ended` event).
 */
import type { Test } from "tap";
import { JobState } from "../../components/core/mod.ts";
import type { CheckResult } from "../../examples/sequence-check.ts";
import { eventOf, events, flotilla } from "./cli.ts";

export function exactlyOnce(
  t: Pick<Test, "same">,
  results: Record<string, unknown[]> | undefined,
  keys: number,
  perKey: number,
): void {
  const rows = Object.values(results ?? {}).flat() as CheckResult[];
  t.same(
    rows.filter((r) => r.kind === "alert"),
    [],
    "no sequence alert (no record lost or seen twice)",
  );
  t.same(
    rows
      .filter((r) => r.kind === "count")
      .map((r) => [r.key, (r as { count: number }).count])
      .sort((a, b) => a[0]! - b[0]!),
    Array.from({ length: keys }, (_, k) => [k, perKey]),
    `every key counted exactly ${perKey} times`,
  );
}

/**
 * Runs examples/sequence-check.ts (4 keys x 500) with the CLI against `clusterFlags` (`--cluster
 * ...`), attached, and asserts it finished exactly once.
 */
export async function runsExactlyOnce(
  t: Test,
  clusterFlags: string[],
  env: Record<string, string>,
): Promise<void> {
  const run = await flotilla(
    [
      "run",
      "examples/sequence-check.ts",
      ...clusterFlags,
      "--json",
      "--arg",
      "keys=4",
      "--arg",
      "perKey=500",
    ],
    env,
  );
  t.equal(run.code, 0, run.stderr);
  const ended = eventOf(events(run.stdout), "ended");
  t.equal(ended.state, JobState.FINISHED);
  exactlyOnce(t, ended.results, 4, 500);
}
