/**
 * The REST bad-input contract, run against any Dispatcher: every bad request is a 4xx with
 * `{"errors": [...], "code"}` and changes nothing. Used for the process cluster and the MiniCluster.
 */
export type Call = (
  method: string,
  path: string,
  body?: unknown,
  raw?: string,
) => Promise<{ status: number; body: unknown }>;

/** What an error reply carries (components/core errors: `{errors: [message], code}`). */
type ErrorBody = { errors?: string[]; code?: string } | undefined;

import type { Test } from "tap";

type Asserts = Pick<Test, "equal" | "match" | "same">;

export async function restBadInput(t: Asserts, call: Call, finishedJobId: string): Promise<void> {
  const before = (await call("GET", "/jobs")).body;
  const sha = "a".repeat(64);
  const cases: [string, string, string, unknown, string | undefined, number, string, RegExp][] = [
    [
      "malformed JSON",
      "POST",
      "/jobs",
      undefined,
      "{not json",
      400,
      "BAD_REQUEST",
      /malformed application\/json/,
    ],
    [
      "unknown field",
      "POST",
      "/jobs",
      { artifact: sha, color: "red" },
      undefined,
      400,
      "BAD_REQUEST",
      /color/,
    ],
    [
      "wrong type",
      "POST",
      "/jobs",
      { artifact: sha, parallelism: "two" },
      undefined,
      400,
      "BAD_REQUEST",
      /'parallelism'/,
    ],
    [
      "bad artifact syntax",
      "POST",
      "/jobs",
      { artifact: "xyz" },
      undefined,
      400,
      "BAD_REQUEST",
      /'artifact'/,
    ],
    [
      "missing artifact",
      "POST",
      "/jobs",
      { artifact: sha },
      undefined,
      404,
      "NOT_FOUND",
      /artifact a+ is not in the blob store/,
    ],
    [
      "unknown job id",
      "GET",
      `/jobs/${"0".repeat(32)}`,
      undefined,
      undefined,
      404,
      "JOB_NOT_FOUND",
      /no job 0+/,
    ],
    [
      "bad job id syntax",
      "GET",
      "/jobs/not-a-job",
      undefined,
      undefined,
      400,
      "BAD_REQUEST",
      /32 lowercase hex/,
    ],
    [
      "cancel a finished job",
      "PATCH",
      `/jobs/${finishedJobId}?mode=cancel`,
      undefined,
      undefined,
      409,
      "CONFLICT",
      /already FINISHED/,
    ],
    [
      "cancel with a bad mode",
      "PATCH",
      `/jobs/${finishedJobId}?mode=explode`,
      undefined,
      undefined,
      400,
      "BAD_REQUEST",
      /mode/,
    ],
    [
      "savepoint of a finished job",
      "POST",
      `/jobs/${finishedJobId}/savepoints`,
      undefined,
      undefined,
      409,
      "CONFLICT",
      /already FINISHED/,
    ],
    [
      "resource requirements of an unknown job",
      "GET",
      `/jobs/${"0".repeat(32)}/resource-requirements`,
      undefined,
      undefined,
      404,
      "JOB_NOT_FOUND",
      /no job 0+/,
    ],
    [
      "resource requirements: malformed JSON",
      "PUT",
      `/jobs/${finishedJobId}/resource-requirements`,
      undefined,
      "{not json",
      400,
      "BAD_REQUEST",
      /malformed application\/json/,
    ],
    [
      "resource requirements: a bound that is not a number",
      "PUT",
      `/jobs/${finishedJobId}/resource-requirements`,
      { v: { parallelism: { lowerBound: 1, upperBound: "four" } } },
      undefined,
      400,
      "BAD_REQUEST",
      /'v\.parallelism\.upperBound'/,
    ],
    [
      "resource requirements of a finished job",
      "PUT",
      `/jobs/${finishedJobId}/resource-requirements`,
      { v: { parallelism: { lowerBound: 1, upperBound: 2 } } },
      undefined,
      409,
      "CONFLICT",
      /already FINISHED/,
    ],
    [
      "empty artifact",
      "POST",
      "/artifacts",
      undefined,
      "",
      400,
      "BAD_REQUEST",
      /artifact is empty/,
    ],
    [
      "unknown route",
      "GET",
      "/nowhere",
      undefined,
      undefined,
      404,
      "NOT_FOUND",
      /no route for GET \/nowhere/,
    ],
  ];
  for (const [name, method, path, body, raw, status, code, message] of cases) {
    const res = await call(method, path, body, raw);
    const error = res.body as ErrorBody;
    t.equal(res.status, status, `${name}: status`);
    t.equal(error?.code, code, `${name}: code`);
    t.match(error?.errors?.[0], message, `${name}: message`);
  }
  t.same((await call("GET", "/jobs")).body, before, "no state changed");
}
