/**
 * The exactly-once verdict on a sequence-check run (examples/sequence-check.ts): no alert (no
 * record lost or seen twice) and every key counted exactly `perKey` times, from the job's
 * collected results (REST `GET /jobs/:id/results`, or the CLI's `ended` event).
 */
import type { Test } from "tap";
import type { CheckResult } from "../../examples/sequence-check.ts";

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
