/**
 * A job that looks around where its graph is built and names its source after what it found
 * (JSON): the environment it sees, and whether it could read a file (`read`, the path in an
 * argument), write one, or start a process. `loop: "true"` makes it never return; `secret`
 * names a job secret it reads with env.secret.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineJob, sinks, sources } from "flotilla";
import { attempt } from "./attempt.ts";

export default defineJob({ name: "sandbox-probe" }, (env) => {
  if (env.arg("loop", "false") === "true") for (;;);
  const secret = env.arg("secret", "");
  const path = env.arg("read");
  const found = {
    env: Object.keys(process.env).length,
    read: attempt(() => readFileSync(path)),
    write: attempt(() => writeFileSync(join(tmpdir(), `probe-${process.pid}`), "x")),
    spawn: attempt(() => execFileSync("true")),
    secret: secret ? env.secret(secret) : "",
  };
  return env
    .source(sources.collection([1]))
    .name(JSON.stringify(found))
    .sink(sinks.discard());
});
