/**
 * A job whose one task looks around the process it runs in and fails with what it found, as
 * JSON in its failure message (it never restarts): the environment's size, its process and
 * parent ids, whether it can read `read` (a path argument) and the job secret `secret`. With
 * `forge` (a NATS subject) it first writes a message of its own on the wire to its TaskManager
 * (a job process's fd 3), asking to subscribe to that subject; with `exit` it ends its process.
 */
import { readFileSync, writeSync } from "node:fs";
import { defineJob, sinks, sources } from "flotilla";
import { attempt } from "./attempt.ts";

/** CBOR of a map of short strings and small integers: all a forged wire message needs. */
function cbor(fields: Record<string, string | number>): Uint8Array {
  const out: number[] = [0xa0 + Object.keys(fields).length];
  const text = (s: string) => {
    const bytes = new TextEncoder().encode(s);
    if (bytes.length < 24) out.push(0x60 + bytes.length);
    else out.push(0x78, bytes.length);
    out.push(...bytes);
  };
  for (const [key, value] of Object.entries(fields)) {
    text(key);
    if (typeof value === "string") text(value);
    else if (value < 24) out.push(value);
    else out.push(0x18, value);
  }
  return Uint8Array.from(out);
}

export default defineJob({ name: "task-probe", restartStrategy: { type: "none" } }, (env) => {
  const read = env.arg("read", "");
  const secret = env.arg("secret", "");
  const forge = env.arg("forge", "");
  const exit = env.arg("exit", "");
  return env
    .source(sources.collection([1]))
    .map((n): number => {
      if (exit) process.exit(Number(exit));
      if (forge) {
        const body = cbor({ t: "sub", sid: 99, subject: forge });
        const head = new Uint8Array(4);
        new DataView(head.buffer).setUint32(0, body.length);
        writeSync(3, head);
        writeSync(3, body);
        return n;
      }
      const found = {
        env: Object.keys(process.env).length,
        pid: process.pid,
        ppid: process.ppid,
        read: read ? attempt(() => readFileSync(read)) : "",
        secret: secret ? env.secret(secret) : "",
      };
      throw new Error(`probe:${JSON.stringify(found)}`);
    })
    .sink(sinks.discard());
});
