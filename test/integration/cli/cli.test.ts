/** The flotilla command as a user runs it: output, --json shape and exit codes, embedded and remote. */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { eventOf, events, flotilla } from "../../support/cli.ts";
import { clusterFor } from "../../support/cluster.ts";
import { natsFor } from "../../support/tap.ts";

t.test("run on the embedded MiniCluster prints results and exits 0", async (t) => {
  const { code, stdout } = await flotilla(["run", "examples/windowed-counts.ts"]);
  t.equal(code, 0);
  t.match(stdout, /submitted [0-9a-f]{32} to embedded MiniCluster/);
  t.match(stdout, /: 6 results/);
  t.match(stdout, /\{"sensor":"a","from":0,"to":5000,"readings":3\}/);
  t.match(stdout, /[0-9a-f]{32} FINISHED/);
});

t.test("run --secret: the job's code reads the file's content with env.secret", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-cli-secret-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "pw.txt");
  writeFileSync(file, "s3cret\n");
  const expect = createHash("sha256").update("s3cret").digest("hex");
  const args = ["run", "test/support/jobs/secret.ts", "--arg", `expect=${expect}`];
  const { code, stdout, stderr } = await flotilla([...args, "--secret", `job=${file}`]);
  t.equal(code, 0, stderr);
  t.match(stdout, /[0-9a-f]{32} FINISHED/);
  t.notMatch(stdout + stderr, /s3cret/, "the value is not printed");
});

t.test("run --json emits one JSON event per line, ending with the results", async (t) => {
  const { code, stdout } = await flotilla([
    "run",
    "examples/sequence-check.ts",
    "--json",
    "--arg",
    "keys=3",
    "--arg",
    "perKey=100",
  ]);
  t.equal(code, 0);
  const events = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  t.match(events[0], { event: "artifact", uploaded: true });
  t.match(events[1], { event: "submitted", jobId: /^[0-9a-f]{32}$/ });
  t.ok(events.some((e) => e.event === "status"));
  const ended = events.at(-1);
  t.match(ended, { event: "ended", state: JobState.FINISHED });
  t.equal(Object.values(ended.results).flat().length, 3, "one count per key");
});

t.test("plan --json prints the job graph", async (t) => {
  const { code, stdout } = await flotilla([
    "plan",
    "examples/wordcount.ts",
    "--json",
    "--parallelism",
    "3",
  ]);
  t.equal(code, 0);
  const plan = JSON.parse(stdout);
  t.equal(plan.name, "wordcount");
  t.same(
    plan.vertices.map((v: { parallelism: number }) => v.parallelism),
    [1, 3, 3],
  );
});

t.test("bad input: one line saying what to do, the right exit code, no stack", async (t) => {
  const cases: [string[], number, RegExp][] = [
    [["run", "missing.ts"], 1, /missing\.ts: no such file/],
    [
      ["run", "examples/wordcount.ts", "--arg", "oops"],
      64,
      /bad --arg "oops": use --arg key=value/,
    ],
    [["run", "examples/wordcount.ts", "--parallelism", "zero"], 64, /bad --parallelism "zero"/],
    [["run", "test/support/jobs/failing.ts"], 1, /FAILED: .*record 1 is not welcome/],
    [["run", "package.json"], 1, /package\.json .*does not export a job|cannot bundle/],
    [["status", "0".repeat(32)], 64, /no cluster given/],
    [
      ["list", "--cluster", "http://127.0.0.1:1"],
      1,
      /cannot reach the cluster at http:\/\/127\.0\.0\.1:1/,
    ],
    [["frobnicate"], 64, /unknown command 'frobnicate'/],
    [["run", "examples/wordcount.ts", "--tls"], 64, /--tls starts a compose-job stack on TLS/],
    [
      ["run", "examples/wordcount.ts", "--secret", "pw"],
      64,
      /bad --secret "pw": use --secret name=file/,
    ],
    [
      ["run", "examples/wordcount.ts", "--secret", "pw=/nonexistent/pw.txt"],
      64,
      /--secret pw: \/nonexistent\/pw\.txt is no file/,
    ],
    [
      ["run", "test/support/jobs/secret.ts", "--arg", "expect=00"],
      1,
      /secret 'job' was not submitted with the job \(flotilla run --secret job=<file>\)/,
    ],
  ];
  for (const [args, exit, message] of cases) {
    const { code, stdout, stderr } = await flotilla(args);
    t.equal(code, exit, `${args.join(" ")}: exit ${exit}`);
    t.match(stderr + stdout, message, args.join(" "));
    t.notMatch(stderr, /\n\s+at /, "no stack trace without --verbose");
  }
});

t.test(
  "remote: run --detached, status, list and cancel against a cluster of processes",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats, { roles: ["master", "taskmanager"] });
    const env = { FLOTILLA_CLUSTER_ADDRESS: cluster.rest };
    const submitted = await flotilla(
      [
        "run",
        "examples/sequence-check.ts",
        "--detached",
        "--json",
        "--arg",
        "perKey=1000000",
        "--arg",
        "rate=1000",
      ],
      env,
    );
    t.equal(submitted.code, 0, submitted.stderr);
    const { jobId } = eventOf(events(submitted.stdout), "submitted");
    await cluster.waitFor("running", async () =>
      (await cluster.job(jobId)).state === JobState.RUNNING ? true : undefined,
    );
    const status = await flotilla(["status", jobId, "--json"], env);
    t.match(JSON.parse(status.stdout), { jid: jobId, state: JobState.RUNNING });
    const listed = await flotilla(["list"], env);
    t.match(listed.stdout, new RegExp(`${jobId}\\s+RUNNING\\s+sequence-check`));
    const canceled = await flotilla(["cancel", jobId], env);
    t.equal(canceled.code, 0);
    t.match(canceled.stdout, new RegExp(`${jobId} CANCELED`));
    const unknown = await flotilla(["status", "f".repeat(32)], env);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /no job f+/);
  },
);
