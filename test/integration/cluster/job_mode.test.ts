/** Job mode: `flotilla start jobmanager` runs one job with TaskManagers that join it, and exits with the job's result. */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import t from "tap";
import { natsFor } from "../../support/tap.ts";

const BIN = fileURLToPath(new URL("../../../bin/flotilla.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

async function runJob(
  t: Parameters<typeof natsFor>[0],
  natsUrl: string,
  file: string,
  args: string,
  { stopWhenRunning = false }: { stopWhenRunning?: boolean } = {},
): Promise<number | null> {
  const env = {
    ...process.env,
    FLOTILLA_NATS_URL: natsUrl,
    FLOTILLA_CLUSTER_ID: `job${Date.now().toString(36)}`,
    FLOTILLA_LOG_LEVEL: "error",
    FLOTILLA_JOB_FILE: file,
    FLOTILLA_JOB_ARGS: args,
    FLOTILLA_HEARTBEAT_INTERVAL: "250",
    FLOTILLA_HEARTBEAT_TIMEOUT: "1500",
  };
  const jm = spawn(process.execPath, [BIN, "start", "jobmanager"], {
    cwd: ROOT,
    // Its info log says when the job runs (the "job state" line): the moment to stop it.
    env: stopWhenRunning ? { ...env, FLOTILLA_LOG_LEVEL: "info" } : env,
    stdio: ["ignore", stopWhenRunning ? "pipe" : "ignore", "inherit"],
  });
  if (stopWhenRunning) {
    const lines = createInterface({ input: jm.stdout!, crlfDelay: Infinity });
    lines.on("line", (line) => {
      if (/"msg":"job state"/.test(line) && /"to":"RUNNING"/.test(line)) jm.kill("SIGTERM");
    });
  }
  const tm = spawn(process.execPath, [BIN, "start", "taskmanager"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  t.teardown(() => {
    jm.kill("SIGKILL");
    tm.kill("SIGKILL");
  });
  const timer = setTimeout(() => jm.kill("SIGKILL"), 60_000);
  const code = await new Promise<number | null>((resolve) => jm.once("exit", (c) => resolve(c)));
  clearTimeout(timer);
  return code;
}

t.test("a finished job exits 0", async (t) => {
  const nats = await natsFor(t);
  t.equal(await runJob(t, nats.url, "examples/sequence-check.ts", "keys=4,perKey=500"), 0);
});

t.test("a failed job exits 1", async (t) => {
  const nats = await natsFor(t);
  t.equal(await runJob(t, nats.url, "test/support/jobs/failing.ts", ""), 1);
});

t.test("a job-mode process stopped with SIGTERM cancels its job and exits 2", async (t) => {
  const nats = await natsFor(t);
  const endless = "keys=2,perKey=1000000,rate=1000";
  t.equal(
    await runJob(t, nats.url, "examples/sequence-check.ts", endless, { stopWhenRunning: true }),
    2,
  );
});

t.test("job mode without a job file is a usage error", async (t) => {
  const nats = await natsFor(t);
  const out = spawn(process.execPath, [BIN, "start", "jobmanager"], {
    cwd: ROOT,
    env: { ...process.env, FLOTILLA_NATS_URL: nats.url, FLOTILLA_LOG_LEVEL: "error" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  out.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => out.once("exit", resolve));
  t.equal(code, 1);
  t.match(stderr, /job mode needs the job: set job\.file \(FLOTILLA_JOB_FILE\)/);
});
