/**
 * The health port's gate (issue 15): a real health server (serveHealth) refuses /metrics and
 * /metrics/targets without a token, takes a REST read or admin token and the metrics token,
 * keeps /healthz open, and stays open with rest.authentication: none; the REST guard does not
 * know the metrics token. And flotilla cluster secrets makes the metrics token and Prometheus'
 * basic-auth web config (a bcrypt hash of the password file's password).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { Hono } from "hono";
import t, { type Test } from "tap";
import { serveHealth } from "../../../components/cluster/health_server.ts";
import { compileConfig, silentLogger } from "../../../components/core/mod.ts";
import {
  ensureClusterSecrets,
  generateToken,
  guardRest,
  PROMETHEUS_USER,
  PROMETHEUS_WEB_CONFIG,
} from "../../../components/security/mod.ts";
import { freePort } from "../../support/nats.ts";

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-metrics-guard-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const tokenFile = (dir: string, name: string) => {
  const token = generateToken();
  writeFileSync(join(dir, name), `${token}\n`, { mode: 0o600 });
  return { token, file: join(dir, name) };
};

/** A health server of a process with `flags`, on a free port; its base URL. */
async function healthServer(t: Test, flags: Record<string, unknown>): Promise<string> {
  const port = await freePort();
  // credentials.dir of its own: no admin token another process generated counts by accident.
  const config = compileConfig({
    env: {},
    flags: { "credentials.dir": tempDir(t), "rest.address": "127.0.0.1", ...flags },
  });
  const server = await serveHealth({ config, log: silentLogger }, port, () => ({ ok: true }));
  t.teardown(() => server.close());
  return `http://127.0.0.1:${port}`;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

t.test("/metrics and /metrics/targets need a REST or metrics token", async (t) => {
  const dir = tempDir(t);
  const admin = tokenFile(dir, "rest-token");
  const read = tokenFile(dir, "rest-read-token");
  const metrics = tokenFile(dir, "metrics-token");
  const base = await healthServer(t, {
    "rest.token-file": admin.file,
    "rest.read-token-file": read.file,
    "metrics.token-file": metrics.file,
  });
  for (const path of ["/metrics", "/metrics/targets"]) {
    const none = await fetch(`${base}${path}`);
    t.equal(none.status, 401, `${path} without a token`);
    t.match(await none.json(), { code: "UNAUTHORIZED", errors: [/metrics need a token/] });
    const wrong = await fetch(`${base}${path}`, { headers: bearer(generateToken()) });
    t.equal(wrong.status, 401, `${path} with a token of no one`);
    t.match(await wrong.json(), { code: "UNAUTHORIZED", errors: [/not valid/] });
    const malformed = await fetch(`${base}${path}`, { headers: { authorization: "Basic eA==" } });
    t.equal(malformed.status, 400, `${path} with a malformed header`);
    for (const [who, token] of [
      ["the metrics token", metrics.token],
      ["a REST read token", read.token],
      ["the REST admin token", admin.token],
    ] as const) {
      const res = await fetch(`${base}${path}`, { headers: bearer(token) });
      t.equal(res.status, 200, `${path} with ${who}`);
      if (path === "/metrics") t.match(await res.text(), /^# HELP /m, "Prometheus text");
      else t.same(await res.json(), [], "no driver here: no targets");
    }
  }
  const health = await fetch(`${base}/healthz`);
  t.equal(health.status, 200, "/healthz stays open for a HEALTHCHECK");
  t.same(await health.json(), { ok: true });
});

t.test("a metrics token alone (a TaskManager) gates; rest.authentication none opens", async (t) => {
  const dir = tempDir(t);
  const metrics = tokenFile(dir, "metrics-token");
  const taskManager = await healthServer(t, { "metrics.token-file": metrics.file });
  t.equal((await fetch(`${taskManager}/metrics`)).status, 401, "a TaskManager's /metrics");
  t.equal(
    (await fetch(`${taskManager}/metrics`, { headers: bearer(metrics.token) })).status,
    200,
    "with the metrics token",
  );
  const open = await healthServer(t, {
    "rest.authentication": "none",
    "metrics.token-file": metrics.file,
  });
  t.equal((await fetch(`${open}/metrics`)).status, 200, "rest.authentication: none is open");
  const noTokens = await healthServer(t, {});
  t.equal((await fetch(`${noTokens}/metrics`)).status, 200, "no token at all: open, as before");
});

t.test("an admin token a server generated in credentials.dir gates its health port", async (t) => {
  const credentials = tempDir(t);
  const admin = tokenFile(credentials, "rest-token");
  const port = await freePort();
  const config = compileConfig({
    env: {},
    flags: { "credentials.dir": credentials, "rest.address": "127.0.0.1" },
  });
  const server = await serveHealth({ config, log: silentLogger }, port, () => ({ ok: true }));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${port}`;
  t.equal((await fetch(`${base}/metrics`)).status, 401);
  t.equal((await fetch(`${base}/metrics`, { headers: bearer(admin.token) })).status, 200);
});

t.test("the REST guard refuses the metrics token", async (t) => {
  const metrics = generateToken();
  const rest = new Hono().get("/jobs/overview", (c) => c.json({ jobs: [] }));
  const guarded = guardRest(rest, {
    tokens: { admin: [generateToken()], read: [generateToken()] },
  });
  const res = await guarded.fetch(
    new Request("http://x/jobs/overview", { headers: bearer(metrics) }),
  );
  t.equal(res.status, 401, "a metrics token is no REST token");
  t.match(await res.json(), { code: "UNAUTHORIZED" });
});

t.test("cluster secrets: the metrics token and Prometheus' web config", async (t) => {
  const dir = join(tempDir(t), "credentials");
  const first = ensureClusterSecrets(dir, { clusterId: "c1" });
  for (const name of ["metrics-token", "prometheus-password", PROMETHEUS_WEB_CONFIG])
    t.ok(first.generated.includes(name), `${name} generated`);
  const password = readFileSync(first.files["prometheus-password"]!, "utf8").trim();
  const webConfig = readFileSync(first.files[PROMETHEUS_WEB_CONFIG]!, "utf8");
  const hash = new RegExp(
    `^  ${PROMETHEUS_USER}: "(\\$2[aby]\\$\\d\\d\\$[./A-Za-z0-9]{53})"$`,
    "m",
  ).exec(webConfig)?.[1];
  t.ok(hash, `basic_auth_users names ${PROMETHEUS_USER} with a bcrypt hash`);
  t.ok(bcrypt.compareSync(password, hash!), "of the password file's password");
  t.notOk(webConfig.includes(password), "the password itself is not in the web config");
  t.equal(statSync(first.files["metrics-token"]!).mode & 0o777, 0o644, "mountable as a secret");

  const again = ensureClusterSecrets(dir, { clusterId: "c1" });
  t.same(again.generated, [], "kept when there");
  t.equal(readFileSync(again.files[PROMETHEUS_WEB_CONFIG]!, "utf8"), webConfig, "hash kept");

  rmSync(first.files[PROMETHEUS_WEB_CONFIG]!);
  const remade = ensureClusterSecrets(dir, { clusterId: "c1" });
  t.same(remade.generated, [PROMETHEUS_WEB_CONFIG], "a lost web config is made again");

  const rotated = ensureClusterSecrets(dir, { clusterId: "c1", rotate: true });
  const newPassword = readFileSync(rotated.files["prometheus-password"]!, "utf8").trim();
  t.not(newPassword, password, "rotate: a new password");
  const newHash = /"(\$2[aby]\$[^"]+)"/.exec(
    readFileSync(rotated.files[PROMETHEUS_WEB_CONFIG]!, "utf8"),
  )?.[1];
  t.ok(bcrypt.compareSync(newPassword, newHash!), "and the hash follows it");
});
