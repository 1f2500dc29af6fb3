/**
 * A job that needs a credential: it reads the secret `job` (env.secret) where the graph is built,
 * and its TaskManagers check the secret's sha256 against the `expect` argument, so the job
 * finishes only when the secret reached them, and fails (no restarts) when it did not.
 */
import { createHash } from "node:crypto";
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "secret-check", restartStrategy: { type: "none" } }, (env) => {
  const expect = env.arg("expect");
  const secret = env.secret("job");
  return env
    .source(sources.collection([1, 2, 3]))
    .map((n) => {
      const got = createHash("sha256").update(secret).digest("hex");
      if (got !== expect)
        throw new Error("the secret the TaskManager read is not the expected one");
      return n;
    })
    .sink(sinks.discard());
});
