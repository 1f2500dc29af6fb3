import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Hono } from "hono";
import t, { type Test } from "tap";
import {
  type Config,
  compileConfig,
  createLogger,
  InvalidConfigError,
} from "../../../components/core/mod.ts";
import {
  localTransport,
  type ReplyEnvelope,
  type RequestEnvelope,
  type Transport,
} from "../../../components/rpc/mod.ts";
import {
  clientRestToken,
  generatedTokenFile,
  generateToken,
  guardRest,
  restGuardFrom,
  restTokensFrom,
  withBearer,
} from "../../../components/security/mod.ts";

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-rest-auth-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A real logger whose JSON lines (raw and parsed) land in arrays. */
function capturingLogger() {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split("\n"))
        if (line) {
          raw.push(line);
          lines.push(JSON.parse(line));
        }
      done();
    },
  });
  return { log: createLogger({ level: "debug", destination }), lines, raw };
}

const flushed = () => new Promise((resolve) => setImmediate(resolve));

const configOf = (flags: Record<string, unknown>): Config => compileConfig({ env: {}, flags });

function tokenFile(dir: string, name: string, tokens: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${tokens.join("\n")}\n`, { mode: 0o600 });
  return path;
}

t.test("rest.authentication none: no tokens, and a warning", async (t) => {
  const dir = tempDir(t);
  const { log, lines } = capturingLogger();
  const config = configOf({ "rest.authentication": "none", "credentials.dir": dir });
  t.equal(restTokensFrom(config, log), undefined);
  await flushed();
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 40, key: "rest.authentication", msg: /authentication is off/ });
  t.notOk(existsSync(generatedTokenFile(config)), "no token generated");
});

t.test("rest.token-file: its tokens are the admin tokens, nothing generated", async (t) => {
  const dir = tempDir(t);
  const [a, b] = [generateToken(), generateToken()];
  const config = configOf({
    "rest.token-file": tokenFile(dir, "admin", [a, b]),
    "credentials.dir": join(dir, "creds"),
  });
  const { log } = capturingLogger();
  t.same(restTokensFrom(config, log), { admin: [a, b], read: [] });
  t.notOk(existsSync(join(dir, "creds")), "credentials.dir untouched");
});

t.test(
  "no rest.token-file: a token is generated into credentials.dir and its file logged",
  async (t) => {
    const dir = join(tempDir(t), "creds");
    const config = configOf({ "credentials.dir": dir });
    const path = join(dir, "rest-token");

    const first = capturingLogger();
    const tokens = restTokensFrom(config, first.log);
    t.equal(tokens?.admin.length, 1);
    const [token] = tokens?.admin ?? [];
    t.same(tokens?.read, []);
    t.equal(readFileSync(path, "utf8"), `${token}\n`, "the token is in the file");
    t.equal(statSync(path).mode & 0o777, 0o600);
    t.equal(statSync(dir).mode & 0o777, 0o700);
    await flushed();
    t.equal(first.lines.length, 1);
    t.match(first.lines[0], { level: 30, tokenFile: path, generated: true });
    t.ok(String(first.lines[0]?.msg).includes(path), "the message names the file");
    t.notOk(first.raw[0]?.includes(token!), "the log line does not hold the token");

    const second = capturingLogger();
    t.same(restTokensFrom(config, second.log)?.admin, [token], "a restart reuses it");
    await flushed();
    t.match(second.lines[0], { tokenFile: path, generated: false, msg: /reused/ });
    t.notOk(second.raw[0]?.includes(token!));
  },
);

t.test("rest.read-token-file: its tokens are the read tokens", (t) => {
  const dir = tempDir(t);
  const admin = generateToken();
  const reads = [generateToken(), generateToken()];
  const config = configOf({
    "rest.token-file": tokenFile(dir, "admin", [admin]),
    "rest.read-token-file": tokenFile(dir, "read", reads),
  });
  t.same(restTokensFrom(config, capturingLogger().log), { admin: [admin], read: reads });

  const generating = configOf({
    "credentials.dir": join(dir, "creds"),
    "rest.read-token-file": tokenFile(dir, "read", reads),
  });
  t.same(
    restTokensFrom(generating, capturingLogger().log)?.read,
    reads,
    "also with a generated admin",
  );

  const bad = configOf({
    "rest.token-file": tokenFile(dir, "admin", [admin]),
    "rest.read-token-file": join(dir, "missing"),
  });
  t.throws(() => restTokensFrom(bad, capturingLogger().log), {
    name: "InvalidConfigError",
    key: "rest.read-token-file",
  });
  t.end();
});

t.test("an unreadable rest.token-file is an error, not a generated token", (t) => {
  const dir = tempDir(t);
  const config = configOf({
    "rest.token-file": join(dir, "missing"),
    "credentials.dir": join(dir, "creds"),
  });
  t.throws(() => restTokensFrom(config, capturingLogger().log), InvalidConfigError);
  t.notOk(existsSync(join(dir, "creds")));
  t.end();
});

t.test("restGuardFrom wraps the app as the configuration says", async (t) => {
  const dir = tempDir(t);
  const app = new Hono().get("/jobs", (c) => c.json([])).post("/jobs", (c) => c.json({}, 201));
  const request = (method: string, token?: string) =>
    new Request("http://x/jobs", {
      method,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    });

  const open = restGuardFrom(configOf({ "rest.authentication": "none" }), capturingLogger().log);
  t.equal(open(app), app, "none and submissions on: the app as it is");

  const admin = generateToken();
  const token = restGuardFrom(
    configOf({ "rest.token-file": tokenFile(dir, "admin", [admin]) }),
    capturingLogger().log,
  )(app);
  t.equal((await token.fetch(request("GET"))).status, 401);
  t.equal((await token.fetch(request("POST", admin))).status, 201);

  const noSubmit = restGuardFrom(
    configOf({ "rest.authentication": "none", "web.submit.enable": "false" }),
    capturingLogger().log,
  )(app);
  t.equal((await noSubmit.fetch(request("GET"))).status, 200);
  t.equal((await noSubmit.fetch(request("POST"))).status, 403);
});

t.test("clientRestToken: rest.token-file, else the generated file, else none", (t) => {
  const dir = tempDir(t);
  const creds = join(dir, "creds");
  const [fromFile, second] = [generateToken(), generateToken()];
  const path = tokenFile(dir, "admin", [fromFile, second]);

  t.equal(clientRestToken(configOf({ "credentials.dir": creds })), undefined, "nothing yet");

  restTokensFrom(configOf({ "credentials.dir": creds }), capturingLogger().log);
  const generated = readFileSync(join(creds, "rest-token"), "utf8").trim();
  t.equal(clientRestToken(configOf({ "credentials.dir": creds })), generated, "the generated one");
  t.equal(
    clientRestToken(configOf({ "credentials.dir": creds, "rest.token-file": path })),
    fromFile,
    "rest.token-file wins, its first token",
  );
  t.throws(
    () => clientRestToken(configOf({ "rest.token-file": join(dir, "missing") })),
    { name: "InvalidConfigError", key: "rest.token-file" },
    "a named file that is missing is an error, not silence",
  );
  t.end();
});

t.test("clientRestToken finds the token a server generated for the same cluster.id", (t) => {
  const home = tempDir(t);
  const saved = process.env.HOME;
  process.env.HOME = home;
  t.teardown(() => {
    if (saved === undefined) delete process.env.HOME;
    else process.env.HOME = saved;
  });
  const server = configOf({ "cluster.id": "alpha" });
  t.equal(generatedTokenFile(server), join(home, ".flotilla", "alpha", "rest-token"));
  const [token] = restTokensFrom(server, capturingLogger().log)?.admin ?? [];
  t.ok(token);
  t.equal(clientRestToken(configOf({ "cluster.id": "alpha" })), token);
  t.equal(clientRestToken(configOf({ "cluster.id": "beta" })), undefined, "another cluster: none");
  t.end();
});

/** An app that answers with the headers it got. */
const echoHeaders = new Hono().all("*", (c) => c.json(Object.fromEntries(c.req.raw.headers)));

const decode = (reply: ReplyEnvelope) =>
  JSON.parse(new TextDecoder().decode(reply.body)) as Record<string, string>;

t.test("withBearer adds the Authorization header and keeps the others", async (t) => {
  const token = generateToken();
  const transport = withBearer(localTransport(echoHeaders), token);
  const reply = await transport.send(
    { method: "GET", path: "/jobs", headers: { accept: "application/json", "x-trace": "t1" } },
    1000,
  );
  t.equal(reply.status, 200);
  t.match(decode(reply), {
    authorization: `Bearer ${token}`,
    accept: "application/json",
    "x-trace": "t1",
  });
});

t.test("withBearer's requests pass a real guard", async (t) => {
  const admin = generateToken();
  const app = guardRest(
    new Hono().get("/jobs", (c) => c.json({ jobs: [] })),
    {
      tokens: { admin: [admin] },
    },
  );
  const request: RequestEnvelope = { method: "GET", path: "/jobs", headers: {} };
  t.equal((await localTransport(app).send(request, 1000)).status, 401, "without: refused");
  t.equal((await withBearer(localTransport(app), admin).send(request, 1000)).status, 200);
  t.same(request.headers, {}, "the caller's request is not changed");
});

t.test("withBearer follows the inner target and passes settling and sendAll through", async (t) => {
  const sent: RequestEnvelope[] = [];
  let settling = true;
  const ok: ReplyEnvelope = { status: 200, headers: {} };
  const inner: Transport & { target: string } = {
    target: "flotilla.a",
    send: async (request) => {
      sent.push(request);
      return ok;
    },
    settling: () => settling,
    sendAll: async (request) => {
      sent.push(request);
      return [ok, ok];
    },
  };
  const token = generateToken();
  const wrapped = withBearer(inner, token);
  t.equal(wrapped.target, "flotilla.a");
  inner.target = "flotilla.b";
  t.equal(wrapped.target, "flotilla.b", "a getter, not a copy");
  t.equal(wrapped.settling?.(), true);
  settling = false;
  t.equal(wrapped.settling?.(), false);
  t.same(await wrapped.sendAll?.({ method: "GET", path: "/x", headers: { a: "1" } }, 50), [ok, ok]);
  t.same(sent[0]?.headers, { a: "1", authorization: `Bearer ${token}` });

  const plain = withBearer(localTransport(echoHeaders), token);
  t.equal(plain.settling, undefined, "no settling where the inner has none");
  t.equal(plain.sendAll, undefined, "no sendAll where the inner has none");
});

t.test("withBearer without a token is the transport itself", (t) => {
  const inner = localTransport(echoHeaders);
  t.equal(withBearer(inner, undefined), inner);
  t.equal(withBearer(inner, ""), inner);
  t.end();
});
