/**
 * env.secret: a secret submitted with the job first, else a mounted file, trimmed; a missing or
 * badly named secret is a clear definition error.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { configureJobRuntime } from "../../../components/dataflow/internal_mod.ts";
import { defineJob, JobDefinitionError, sinks, sources } from "../../../components/dataflow/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "flotilla-secrets-"));
writeFileSync(join(dir, "db-password"), "hunter2\n");
configureJobRuntime({ "secrets.dir": dir, "artifact.cache-dir": "" });

function jobReading(name: string, secrets?: Record<string, string>) {
  let read: string | undefined;
  const job = defineJob({ name: "secrets" }, (env) => {
    read = env.secret(name);
    return env.source(sources.collection([1])).sink(sinks.discard());
  });
  return {
    build: () => job.graph({ args: {}, ...(secrets ? { secrets } : {}) }),
    read: () => read,
  };
}

t.test("a secret is the file's content without its trailing newline", async (t) => {
  const job = jobReading("db-password");
  job.build();
  t.equal(job.read(), "hunter2");
});

t.test("a missing secret names itself, the directory and what to do", async (t) => {
  t.throws(() => jobReading("api-key").build(), {
    constructor: JobDefinitionError,
    message: new RegExp(
      `secret 'api-key' was not submitted with the job \\(flotilla run --secret api-key=<file>\\) and is not in ${dir}: declare it under secrets:`,
    ),
  });
});

t.test(
  "a secret submitted with the job comes first, trimmed; others still come from files",
  async (t) => {
    const job = jobReading("db-password", { "db-password": "submitted\n" });
    job.build();
    t.equal(job.read(), "submitted");
    const other = jobReading("db-password", { "api-key": "x" });
    other.build();
    t.equal(other.read(), "hunter2", "a job without that secret submitted reads the mounted file");
  },
);

t.test("a submitted secret is not found through an inherited name", async (t) => {
  t.throws(() => jobReading("constructor", {}).build(), { message: /was not submitted/ });
});

t.test("a name that would leave the directory is refused", async (t) => {
  t.throws(() => jobReading("../etc/passwd").build(), { message: /bad secret name/ });
});

t.test(
  "the cluster's own credentials, mounted beside a job's secrets, are not a job's",
  async (t) => {
    for (const name of ["nats-taskmanager.nk", "rest-token", "tls-ca.key", "nats-auth.conf"]) {
      writeFileSync(join(dir, name), "the cluster's\n");
      t.throws(
        () => jobReading(name).build(),
        { constructor: JobDefinitionError, message: /one of the cluster's own credentials/ },
        name,
      );
    }
  },
);
