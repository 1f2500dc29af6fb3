/**
 * Every job command as a user runs it, against each kind of cluster: a cluster of processes on
 * NATS reached over REST and over NATS, and `flotilla start mini`. Output, --json shape and exit
 * codes; the same artifact gives the same results everywhere; savepoints carry state across a
 * change of parallelism; bad cluster addresses and commands on ended jobs fail in one line.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import type { JobDetailsInfo } from "../../../components/protocol/mod.ts";
import { httpTransport } from "../../../components/rpc/mod.ts";
import { eventOf, events, eventsOf, type JobList } from "../../support/cli.ts";
import { clusterFor } from "../../support/cluster.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { dispatcherRest } from "../../support/rest.ts";
import { authorized, TOKEN_ENV } from "../../support/rest_token.ts";
import { exactlyOnce } from "../../support/sequence.ts";
import { natsFor } from "../../support/tap.ts";

const BIN = fileURLToPath(new URL("../../../bin/flotilla.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const SEQUENCE = "examples/sequence-check.ts";
const WINDOWED = "examples/windowed-counts.ts";
const WORDCOUNT = "examples/wordcount.ts";
const JOB_ID = /[0-9a-f]{32}/;

// ~80 s on 2 idle cores (three targets, a dozen CLI processes each): room for a loaded CI machine.
t.setTimeout(300_000);

/** The caller's cluster settings are left out: every command here says where it goes. */
const ENV = {
  ...Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^FLOTILLA_(CLUSTER|NATS_URL)/.test(key)),
  ),
  ...TOKEN_ENV,
};

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Launched {
  child: ChildProcess;
  done: Promise<Outcome>;
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
}

function launch(args: string[], env: Record<string, string | undefined> = ENV): Launched {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const waiting: { pattern: RegExp; resolve(line: string): void }[] = [];
  const offer = () => {
    for (const w of [...waiting]) {
      const found = stdout.split("\n").find((l) => w.pattern.test(l));
      if (found === undefined) continue;
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(found);
    }
  };
  child.stdout!.on("data", (c: Buffer) => {
    stdout += c.toString();
    offer();
  });
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const done = new Promise<Outcome>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr })),
  );
  return {
    child,
    done,
    line: (pattern) =>
      Promise.race([
        new Promise<string>((resolve) => {
          waiting.push({ pattern, resolve });
          offer();
        }),
        done.then(({ code, stdout, stderr }) => {
          throw new Error(`exited ${code} before printing ${pattern}: ${stdout}${stderr}`);
        }),
      ]),
  };
}

const flotilla = (args: string[]) => launch(args).done;

const lines = (text: string) => text.trim().split("\n").filter(Boolean);

/** Results of every sink, one JSON string each, sorted: comparable across runs and clusters. */
const sortedResults = (results: Record<string, unknown[]>) =>
  Object.values(results)
    .flat()
    .map((r) => JSON.stringify(r))
    .sort();

/** Polls a REST endpoint until `done(details)` holds; the job's details then. */
async function waitForJob(
  rest: string,
  jobId: string,
  done: (details: JobDetailsInfo) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<JobDetailsInfo> {
  const dispatcher = dispatcherRest(authorized(httpTransport(rest)));
  let last: JobDetailsInfo | undefined;
  const check = async () => {
    last = await dispatcher.job(jobId);
    return done(last) ? last : undefined;
  };
  return await until(check, `job ${jobId}: ${what}`, { timeoutMs, intervalMs: 50 }).catch(
    (err: Error) => {
      throw new Error(`${err.message}; the job's last details: ${JSON.stringify(last)}`);
    },
  );
}

/** Running with a completed checkpoint: every task is deployed, so a savepoint can be taken. */
const checkpointing = (d: JobDetailsInfo) =>
  d.state === JobState.RUNNING && d.flotilla.checkpoints >= 1;

/** `flotilla start mini` on a free port, up once /healthz answers, stopped at teardown. */
async function startMini(t: {
  teardown(fn: () => unknown): void;
}): Promise<{ rest: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [BIN, "start", "mini", "--rest-port", String(port), "--slots", "8"],
    {
      cwd: ROOT,
      env: { ...ENV, FLOTILLA_REST_ADDRESS: "127.0.0.1", FLOTILLA_LOG_LEVEL: "error" },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const exited = new Promise((r) => child.once("exit", r));
  t.teardown(async () => {
    child.kill("SIGTERM");
    await exited;
  });
  const rest = `http://127.0.0.1:${port}`;
  await until(
    async () => {
      if (child.exitCode !== null) return `exited ${child.exitCode}`;
      return (await fetch(`${rest}/healthz`)).ok;
    },
    "flotilla start mini answering /healthz",
    { timeoutMs: 20_000, intervalMs: 50 },
  ).then((outcome) => {
    if (outcome !== true) throw new Error(`flotilla start mini ${outcome}`);
  });
  return { rest, process: child };
}

interface Target {
  name: string;
  /** The --cluster (and --cluster-id) flags that reach it. */
  flags: string[];
  /** How `submitted` names it. */
  label: RegExp;
  /** Its REST address, for the test's own probes. */
  rest: string;
  /** A job file this cluster has not seen yet, for the upload check. */
  fresh: string;
}

t.test("the job commands against a NATS cluster and against flotilla start mini", async (t) => {
  const nats = await natsFor(t);
  const [cluster, mini] = await Promise.all([
    clusterFor(t, nats, {
      roles: ["master", "taskmanager", "taskmanager"],
      env: { FLOTILLA_TASKMANAGER_SLOTS: "4" },
    }),
    startMini(t),
  ]);
  const clusterId = cluster.env.FLOTILLA_CLUSTER_ID!;
  const targets: Target[] = [
    {
      name: "REST of a cluster of processes",
      flags: ["--cluster", cluster.rest],
      label: new RegExp(cluster.rest.replaceAll(".", "\\.")),
      rest: cluster.rest,
      fresh: WINDOWED,
    },
    {
      name: "NATS of a cluster of processes",
      flags: ["--cluster", nats.url, "--cluster-id", clusterId],
      label: new RegExp(`${nats.url.replaceAll(".", "\\.")} \\(cluster ${clusterId}\\)`),
      rest: cluster.rest,
      // The REST target above uploaded windowed-counts already.
      fresh: WORDCOUNT,
    },
    {
      name: "flotilla start mini",
      flags: ["--cluster", mini.rest],
      label: new RegExp(mini.rest.replaceAll(".", "\\.")),
      rest: mini.rest,
      fresh: WINDOWED,
    },
  ];
  /** A finished job per target, for the bad-input checks. */
  const finished = new Map<string, string>();

  for (const target of targets) {
    t.test(`${target.name}: run prints the results; a second run skips the upload`, async (t) => {
      const first = await flotilla(["run", target.fresh, ...target.flags]);
      t.equal(first.code, 0, first.stderr);
      t.equal(first.stderr, "", "nothing on stderr");
      t.match(
        first.stdout,
        new RegExp(`^${target.fresh}: artifact [0-9a-f]{12} \\(\\d+ bytes, uploaded\\)$`, "m"),
      );
      t.match(
        first.stdout,
        new RegExp(`^submitted ${JOB_ID.source} to ${target.label.source}`, "m"),
      );
      if (target.fresh === WINDOWED) {
        t.match(first.stdout, /: 6 results$/m);
        t.match(first.stdout, /^ {2}\{"sensor":"a","from":0,"to":5000,"readings":3\}$/m);
      } else {
        t.match(first.stdout, /: \d+ results$/m);
        t.match(first.stdout, /^ {2}\{"word":"to","count":\d+\}$/m);
      }
      const [, jobId] = first.stdout.match(new RegExp(`^(${JOB_ID.source}) FINISHED$`, "m")) ?? [];
      t.ok(jobId, "the last line says the job finished");
      finished.set(target.name, jobId!);

      const again = await flotilla(["run", target.fresh, "--json", ...target.flags]);
      t.equal(again.code, 0, again.stderr);
      const evs = events(again.stdout);
      t.match(evs[0], { event: "artifact", artifact: /^[0-9a-f]{64}$/, uploaded: false });
      t.match(evs[1], { event: "submitted", jobId: JOB_ID, cluster: target.label });
      const { jobId: submitted } = eventOf(evs, "submitted");
      t.ok(
        evs.slice(2, -1).every((e) => e.event === "status" && e.jid === submitted),
        "status events in between",
      );
      t.match(evs.at(-1), { event: "ended", jid: submitted, state: JobState.FINISHED });
      const ended = eventOf(evs, "ended");
      // The human run printed the same results, one JSON value per line.
      const printed = lines(first.stdout)
        .filter((l) => l.startsWith("  {"))
        .map((l) => l.trim())
        .sort();
      t.same(printed, sortedResults(ended.results), "both runs give the same results");
    });

    t.test(
      `${target.name}: run --detached, list, status, savepoint, stop --savepoint, resume at another parallelism`,
      async (t) => {
        // 36 s of input at 500 records/s per reader: the stop comes well before the end. The resumed
        // job reads the rest at full speed.
        const perKey = 6000;
        const keys = 6;
        const detached = await flotilla([
          "run",
          SEQUENCE,
          "--detached",
          "--json",
          "--parallelism",
          "2",
          "--arg",
          `keys=${keys}`,
          "--arg",
          `perKey=${perKey}`,
          "--arg",
          "rate=500",
          ...target.flags,
        ]);
        t.equal(detached.code, 0, detached.stderr);
        const submitted = events(detached.stdout);
        t.equal(submitted.length, 2, "artifact and submitted, nothing more");
        t.match(submitted[0], { event: "artifact" });
        t.match(submitted[1], { event: "submitted", jobId: JOB_ID });
        const { jobId } = eventOf(submitted, "submitted");
        await waitForJob(target.rest, jobId, checkpointing, "a checkpoint");

        const listed = await flotilla(["list", ...target.flags]);
        t.equal(listed.code, 0, listed.stderr);
        t.match(listed.stdout, new RegExp(`^${jobId}\\s+RUNNING\\s+sequence-check$`, "m"));
        const listedJson = await flotilla(["list", "--json", ...target.flags]);
        t.equal(listedJson.code, 0, listedJson.stderr);
        const [listedJobs] = events<JobList>(listedJson.stdout);
        t.match(
          listedJobs?.jobs.find((j) => j.jid === jobId),
          { jid: jobId, name: "sequence-check", state: JobState.RUNNING, "start-time": Number },
        );

        const status = await flotilla(["status", jobId, ...target.flags]);
        t.equal(status.code, 0, status.stderr);
        t.equal(lines(status.stdout).length, 1, "one line");
        t.match(status.stdout, new RegExp(`^${jobId} sequence-check: RUNNING`));
        t.match(
          status.stdout,
          / \| sequence 2 RUNNING \(in \d+[kM]?, out \d+[kM]?\) \| check sequences -> collect sink 2 RUNNING /,
          "tasks and records per vertex",
        );
        const statusJson = await flotilla(["status", jobId, "--json", ...target.flags]);
        t.equal(statusJson.code, 0, statusJson.stderr);
        const [details] = events<JobDetailsInfo>(statusJson.stdout);
        t.match(details, {
          jid: jobId,
          name: "sequence-check",
          state: JobState.RUNNING,
          vertices: Array,
          flotilla: { checkpoints: Number },
        });
        t.same(
          details?.vertices.map((v) => v.parallelism),
          [2, 2],
          "two vertices at parallelism 2",
        );

        const taken = await flotilla(["savepoint", jobId, ...target.flags]);
        t.equal(taken.code, 0, taken.stderr);
        t.match(taken.stdout, new RegExp(`^savepoints/${jobId}/\\d+\\n$`), "only the path");
        const takenJson = await flotilla(["savepoint", jobId, "--json", ...target.flags]);
        t.equal(takenJson.code, 0, takenJson.stderr);
        t.match(JSON.parse(takenJson.stdout), {
          jid: jobId,
          "request-id": /^[0-9a-f]{32}$/,
          status: { id: "COMPLETED" },
          operation: { location: new RegExp(`^savepoints/${jobId}/\\d+$`) },
        });

        const stopped = await flotilla(["stop", jobId, "--savepoint", "--json", ...target.flags]);
        t.equal(stopped.code, 0, stopped.stderr);
        const stop = JSON.parse(stopped.stdout) as { operation: { location: string } };
        t.match(stop, {
          jid: jobId,
          // Flink's stop-with-savepoint: the job ends finished, its savepoint kept.
          state: JobState.FINISHED,
          status: { id: "COMPLETED" },
          operation: { location: new RegExp(`^savepoints/${jobId}/\\d+$`) },
        });
        const listedAfter = await flotilla(["list", ...target.flags]);
        t.match(listedAfter.stdout, new RegExp(`^${jobId}\\s+FINISHED\\s+sequence-check$`, "m"));

        const resumed = await flotilla([
          "run",
          SEQUENCE,
          "--json",
          "--from-savepoint",
          stop.operation.location,
          "--parallelism",
          "3",
          "--arg",
          `keys=${keys}`,
          "--arg",
          `perKey=${perKey}`,
          ...target.flags,
        ]);
        t.equal(resumed.code, 0, resumed.stderr);
        const evs = events(resumed.stdout);
        t.match(evs[0], { event: "artifact", uploaded: false });
        const statuses = eventsOf(evs, "status");
        const running = statuses.find((e) => e.state === JobState.RUNNING);
        t.same(
          running?.vertices.map((v) => v.parallelism),
          [3, 3],
          "runs at parallelism 3",
        );
        t.match(evs.at(-1), { event: "ended", state: JobState.FINISHED });
        const ended = eventOf(evs, "ended");
        const read =
          statuses.at(-1)?.vertices.find((v) => v.name === "sequence")?.metrics["write-records"] ??
          0;
        t.ok(
          read > 0 && read < keys * perKey,
          `the source went on from the savepoint: read ${read} of ${keys * perKey}`,
        );
        exactlyOnce(t, ended.results, keys, perKey); // across the stop
      },
    );

    t.test(`${target.name}: cancel a running job; an attached run canceled exits 2`, async (t) => {
      const endless = ["--arg", "perKey=1000000", "--arg", "rate=1000", ...target.flags];
      const detached = await flotilla(["run", SEQUENCE, "--detached", ...endless]);
      t.equal(detached.code, 0, detached.stderr);
      t.match(
        detached.stdout,
        new RegExp(`^submitted ${JOB_ID.source} to ${target.label.source}`, "m"),
      );
      const [detachedId] = detached.stdout.match(JOB_ID)!;
      t.equal(lines(detached.stdout).length, 2, "artifact and submitted lines, then it returns");
      await waitForJob(target.rest, detachedId, (d) => d.state === JobState.RUNNING, "running");
      const canceled = await flotilla(["cancel", detachedId, "--json", ...target.flags]);
      t.equal(canceled.code, 0, canceled.stderr);
      t.same(JSON.parse(canceled.stdout), { jid: detachedId, state: JobState.CANCELED });

      const attached = launch(["run", SEQUENCE, ...endless]);
      const [jobId] = (await attached.line(/^submitted /)).match(JOB_ID)!;
      await waitForJob(target.rest, jobId, (d) => d.state === JobState.RUNNING, "running");
      const cancel = await flotilla(["cancel", jobId, ...target.flags]);
      t.equal(cancel.code, 0, cancel.stderr);
      t.equal(cancel.stdout, `${jobId} CANCELED\n`);
      const ran = await attached.done;
      t.equal(ran.code, 2, "canceled: exit 2");
      t.match(ran.stdout, new RegExp(`^${jobId} CANCELED$`, "m"));
      t.equal(ran.stderr, "");
    });
  }

  t.test(
    "the same artifact gives the same results embedded, on start mini and on NATS",
    async (t) => {
      const runs = await Promise.all(
        [[], ...targets.map((target) => target.flags)].map((flags) =>
          flotilla(["run", WINDOWED, "--json", ...flags]),
        ),
      );
      const [embedded, ...remote] = runs.map(({ code, stdout, stderr }) => {
        t.equal(code, 0, stderr);
        const evs = events(stdout);
        return { artifact: eventOf(evs, "artifact").artifact, ended: eventOf(evs, "ended") };
      });
      t.match(embedded!.ended, { event: "ended", state: JobState.FINISHED });
      t.equal(sortedResults(embedded!.ended.results).length, 6, "six windows");
      for (const [i, run] of remote.entries()) {
        t.equal(run.artifact, embedded!.artifact, `${targets[i]!.name}: the same sha256`);
        t.match(run.ended, { event: "ended", state: JobState.FINISHED });
        t.same(
          sortedResults(run.ended.results),
          sortedResults(embedded!.ended.results),
          `${targets[i]!.name}: the same results`,
        );
      }
    },
  );

  t.test("bad cluster addresses and commands on ended jobs fail in one line", async (t) => {
    const closed = await freePort();
    const oneLine = (o: Outcome, what: string) => {
      t.equal(o.stdout, "", `${what}: nothing on stdout`);
      t.equal(lines(o.stderr).length, 1, `${what}: one line on stderr`);
      t.notMatch(o.stderr, /\n\s+at /, `${what}: no stack`);
    };
    const unreachable = await flotilla(["list", "--cluster", `nats://127.0.0.1:${closed}`]);
    t.equal(unreachable.code, 1);
    t.match(
      unreachable.stderr,
      new RegExp(`cannot reach the cluster at nats://127\\.0\\.0\\.1:${closed}`),
    );
    oneLine(unreachable, "closed NATS port");

    const ftp = await flotilla(["list", "--cluster", "ftp://x"]);
    t.equal(ftp.code, 64);
    t.match(
      ftp.stderr,
      /bad cluster address "ftp:\/\/x": use http:\/\/host:8081 or nats:\/\/host:4222/,
    );
    oneLine(ftp, "ftp://");

    const wrongId = await flotilla(["list", "--cluster", nats.url, "--cluster-id", "nope"]);
    t.equal(wrongId.code, 1);
    t.match(wrongId.stderr, /cluster 'nope'/);
    t.match(wrongId.stderr, /--cluster-id/);
    oneLine(wrongId, "wrong cluster id");

    const natsFlags = targets[1]!.flags;
    const unknown = "f".repeat(32);
    const missing = await flotilla(["status", unknown, ...natsFlags]);
    t.equal(missing.code, 1);
    t.match(missing.stderr, new RegExp(`no job ${unknown}`));
    oneLine(missing, "unknown job over NATS");
    const missingJson = await flotilla(["status", unknown, "--json", ...natsFlags]);
    t.equal(missingJson.code, 1);
    t.match(JSON.parse(missingJson.stdout), {
      error: { code: "JOB_NOT_FOUND", message: new RegExp(`no job ${unknown}`) },
    });

    for (const target of targets) {
      const jobId = finished.get(target.name);
      t.ok(jobId, `${target.name}: a finished job from the run test`);
      if (!jobId) continue;
      for (const args of [
        ["stop", jobId, "--savepoint"],
        ["stop", jobId],
        ["savepoint", jobId],
      ]) {
        const what = `${target.name}: ${args.join(" ")}`;
        const o = await flotilla([...args, ...target.flags]);
        t.equal(o.code, 1, what);
        t.match(o.stderr, new RegExp(`job ${jobId} already FINISHED`), what);
        oneLine(o, what);
      }
    }
  });
});
