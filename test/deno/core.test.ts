/**
 * components/core under Deno: codecs, typed errors and their wire form, configuration
 * precedence and validation, ids and logging. A subset of the Node suite, run by `deno task test`.
 */
import assert from "node:assert/strict";
import {
  CBOR_TYPE,
  cbor,
  codecFor,
  compileConfig,
  createLogger,
  decodeBody,
  ErrorCode,
  envName,
  FlotillaError,
  fromWire,
  InvalidArgumentError,
  InvalidConfigError,
  isJobId,
  JSON_TYPE,
  json,
  NotFoundError,
  newJobId,
  parseJobId,
  parseTaskManagerId,
  plainCbor,
  StaleLeaderError,
  statusOf,
  TimeoutError,
  toFlotillaError,
  typedError,
  UnavailableError,
} from "../../components/core/mod.ts";

/** Asserts that `fn` throws an InvalidConfigError for `key` whose message contains every hint. */
function assertInvalidConfig(fn: () => unknown, key: string, ...hints: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidConfigError, `expected InvalidConfigError, got ${err}`);
    assert.equal(err.code, ErrorCode.INVALID_CONFIG);
    assert.equal(err.key, key);
    for (const hint of hints) assert.ok(err.message.includes(hint), `'${hint}' in: ${err.message}`);
    return true;
  });
}

// --- codecs -------------------------------------------------------------------------------------

Deno.test("cbor round-trips nested values, bytes included", () => {
  const value = {
    name: "wordcount",
    parallelism: 4,
    ratio: 0.25,
    big: 2 ** 40,
    negative: -17,
    ok: true,
    none: null,
    tags: ["a", "b"],
    nested: { deeper: { list: [1, { x: "y" }] } },
    payload: new Uint8Array([0, 1, 2, 255]),
  };
  const decoded = cbor.decode(cbor.encode(value)) as typeof value;
  // Byte strings may come back as a Uint8Array subclass (Buffer); compare the bytes themselves.
  assert.ok(decoded.payload instanceof Uint8Array);
  assert.deepEqual([...decoded.payload], [0, 1, 2, 255]);
  assert.deepEqual({ ...decoded, payload: null }, { ...value, payload: null });
  assert.equal(cbor.contentType, CBOR_TYPE);
});

Deno.test("cbor writes plain maps and untagged byte strings any CBOR peer can read", () => {
  // {"a": 1} as a map (major type 5) holding text "a" and 1, not a tagged cbor-x record.
  const map = cbor.encode({ a: 1 });
  assert.equal(map[0]! >> 5, 5, `expected a CBOR map, got ${[...map]}`);
  assert.deepEqual([...map.subarray(-3)], [0x61, 0x61, 0x01]);
  // A two-byte byte string, without a typed-array tag.
  assert.deepEqual([...cbor.encode(new Uint8Array([7, 8]))], [0x42, 7, 8]);
});

Deno.test("json round-trips values as UTF-8 JSON text", () => {
  const value = { word: "grüße", counts: [1, 2, 3], nested: { ok: false } };
  const bytes = json.encode(value);
  assert.equal(new TextDecoder().decode(bytes), JSON.stringify(value));
  assert.deepEqual(json.decode(bytes), value);
  assert.equal(json.contentType, JSON_TYPE);
});

Deno.test("codecFor picks a codec by media type and ignores parameters and case", () => {
  // Between blocks CBOR decodes to plain data only (plainCbor); a job's snapshots use `cbor`.
  assert.equal(codecFor("application/cbor"), plainCbor);
  assert.equal(codecFor("Application/CBOR; charset=binary"), plainCbor);
  assert.equal(codecFor("application/json; charset=utf-8"), json);
  assert.equal(codecFor("application/problem+json"), json);
  assert.equal(codecFor("text/plain"), undefined);
  assert.equal(codecFor(""), undefined);
  assert.equal(codecFor(null), undefined);
  assert.equal(codecFor(undefined), undefined);
});

Deno.test("decodeBody turns a malformed body into BAD_REQUEST naming the content type", () => {
  const bytes = new TextEncoder().encode("{oops");
  assert.throws(
    () => decodeBody(json, bytes),
    (err: unknown) => {
      assert.ok(err instanceof FlotillaError);
      assert.equal(err.code, ErrorCode.BAD_REQUEST);
      assert.equal(err.status, 400);
      assert.match(err.message, /malformed application\/json body \(5 bytes\)/);
      return true;
    },
  );
  assert.throws(() => decodeBody(cbor, new Uint8Array([0x1c])), /malformed application\/cbor/);
  assert.deepEqual(decodeBody(cbor, cbor.encode({ ok: 1 })), { ok: 1 });
});

// --- typed errors -------------------------------------------------------------------------------

Deno.test("typed errors carry code, status and whether a retry can help", () => {
  const unavailable = new UnavailableError("rm is down");
  assert.equal(unavailable.code, ErrorCode.UNAVAILABLE);
  assert.equal(unavailable.status, 503);
  assert.equal(unavailable.retryable, true);
  assert.equal(new TimeoutError("slow").retryable, true);
  const stale = new StaleLeaderError("replaced");
  assert.equal(stale.status, 409);
  assert.equal(stale.retryable, false);
  assert.ok(stale instanceof FlotillaError);
  assert.deepEqual(stale.toWire(), { errors: ["replaced"], code: "STALE_LEADER" });
  assert.equal(new InvalidArgumentError("bad").status, 400);
});

Deno.test("every code survives toWire -> CBOR -> fromWire with its class and message", () => {
  for (const code of Object.values(ErrorCode)) {
    const sent = typedError(code, `failure ${code}`);
    const wire = cbor.decode(cbor.encode(sent.toWire()));
    const received = fromWire(statusOf[code], wire);
    assert.equal(received.code, code);
    assert.equal(received.message, `failure ${code}`);
    assert.equal(received.status, statusOf[code]);
    assert.equal(received.constructor, sent.constructor, `class of ${code}`);
  }
  assert.ok(fromWire(409, { errors: ["old"], code: "STALE_LEADER" }) instanceof StaleLeaderError);
  assert.ok(fromWire(404, { errors: ["gone"], code: "JOB_NOT_FOUND" }) instanceof NotFoundError);
  assert.ok(fromWire(503, { errors: ["down"], code: "UNAVAILABLE" }) instanceof UnavailableError);
});

Deno.test("fromWire maps unknown codes and non-wire bodies by status", () => {
  const future = fromWire(409, { errors: ["a", "b"], code: "SOMETHING_NEWER" });
  assert.equal(future.code, ErrorCode.CONFLICT);
  assert.equal(future.message, "SOMETHING_NEWER: a; b");

  const text = fromWire(502, "bad gateway");
  assert.equal(text.code, ErrorCode.INTERNAL);
  assert.equal(text.message, "bad gateway");

  const empty = fromWire(404, undefined);
  assert.equal(empty.code, ErrorCode.NOT_FOUND);
  assert.equal(empty.message, "request failed with status 404");

  assert.equal(fromWire(400, { errors: "not a list", code: "X" }).code, ErrorCode.BAD_REQUEST);
  assert.equal(fromWire(504, {}).code, ErrorCode.TIMEOUT);
  assert.equal(fromWire(413, null).code, ErrorCode.PAYLOAD_TOO_LARGE);
});

Deno.test("toFlotillaError keeps typed errors and wraps anything else as INTERNAL", () => {
  const typed = new UnavailableError("x");
  assert.equal(toFlotillaError(typed), typed);
  const cause = new Error("disk full");
  const wrapped = toFlotillaError(cause);
  assert.equal(wrapped.code, ErrorCode.INTERNAL);
  assert.equal(wrapped.message, "disk full");
  assert.equal(wrapped.cause, cause);
  assert.equal(toFlotillaError("plain string").message, "plain string");
  assert.equal(toFlotillaError({ odd: 1 }).message, '{"odd":1}');
});

// --- configuration ------------------------------------------------------------------------------

Deno.test("compileConfig fills defaults and returns a frozen config", () => {
  const config = compileConfig({ env: {} });
  assert.equal(config["cluster.id"], "default");
  assert.equal(config["rpc.timeout"], 5000);
  assert.equal(config["heartbeat.interval"], 1000);
  assert.equal(config["rest.port"], 8081);
  assert.equal(config["log.level"], "info");
  assert.ok(Object.isFrozen(config));
});

Deno.test("compileConfig precedence: flags > env > file > defaults", () => {
  const config = compileConfig({
    flags: { "rest.port": 3, "cluster.id": undefined },
    env: { FLOTILLA_REST_PORT: "2", FLOTILLA_CLUSTER_ID: "from-env" },
    file: { "rest.port": 1, "cluster.id": "from-file", "heartbeat.interval": "2s" },
  });
  assert.equal(config["rest.port"], 3);
  assert.equal(config["cluster.id"], "from-env");
  assert.equal(config["heartbeat.interval"], 2000);
  assert.equal(config["heartbeat.timeout"], 5000);
});

Deno.test("compileConfig reads durations as ms numbers or unit strings", () => {
  const cases: [unknown, number][] = [
    [250, 250],
    ["250", 250],
    ["500ms", 500],
    ["5s", 5000],
    ["1.5s", 1500],
    ["2m", 120_000],
    ["2min", 120_000],
    ["1h", 3_600_000],
  ];
  for (const [raw, ms] of cases) {
    assert.equal(compileConfig({ env: {}, flags: { "rpc.timeout": raw } })["rpc.timeout"], ms);
  }
});

Deno.test("compileConfig names the key, value and source of an invalid value", () => {
  assertInvalidConfig(
    () => compileConfig({ env: { FLOTILLA_REST_PORT: "abc" } }),
    "rest.port",
    '"abc"',
    "'rest.port'",
    "env FLOTILLA_REST_PORT",
  );
  assertInvalidConfig(
    () => compileConfig({ env: {}, flags: { "heartbeat.timeout": "soon" } }),
    "heartbeat.timeout",
    '"soon"',
    "flag --heartbeat.timeout",
    "duration",
  );
  assertInvalidConfig(
    () => compileConfig({ env: {}, file: { "cluster.id": "a.b" } }),
    "cluster.id",
    '"a.b"',
    "config file",
    "letters, digits",
  );
  assertInvalidConfig(
    () => compileConfig({ env: {}, flags: { "rest.port": 70000 } }),
    "rest.port",
    "70000",
  );
  assertInvalidConfig(
    () => compileConfig({ env: { FLOTILLA_LOG_LEVEL: "loud" } }),
    "log.level",
    '"loud"',
  );
  assertInvalidConfig(
    () => compileConfig({ env: {}, flags: { "rpc.timeuot": 5 } }),
    "rpc.timeuot",
    "unknown config key 'rpc.timeuot' in flags",
    "rpc.timeout",
  );
});

Deno.test("compileConfig reads a JSON file by path, also from FLOTILLA_CONFIG", async () => {
  const dir = await Deno.makeTempDir({ prefix: "flotilla-config-" });
  try {
    const good = `${dir}/good.json`;
    await Deno.writeTextFile(good, JSON.stringify({ "rest.port": 9000, "rpc.timeout": "3s" }));
    const byPath = compileConfig({ env: {}, file: good });
    assert.equal(byPath["rest.port"], 9000);
    assert.equal(byPath["rpc.timeout"], 3000);
    assert.equal(compileConfig({ env: { FLOTILLA_CONFIG: good } })["rest.port"], 9000);

    const broken = `${dir}/broken.json`;
    await Deno.writeTextFile(broken, "{ not json");
    assertInvalidConfig(() => compileConfig({ env: {}, file: broken }), "config", broken, "JSON");

    const list = `${dir}/list.json`;
    await Deno.writeTextFile(list, "[1, 2]");
    assertInvalidConfig(() => compileConfig({ env: {}, file: list }), "config", "JSON object");

    const unknown = `${dir}/unknown.json`;
    await Deno.writeTextFile(unknown, JSON.stringify({ "rest.prot": 1 }));
    assertInvalidConfig(
      () => compileConfig({ env: {}, file: unknown }),
      "rest.prot",
      `config file ${unknown}`,
    );

    const missing = `${dir}/missing.json`;
    assertInvalidConfig(
      () => compileConfig({ env: {}, file: missing }),
      "config",
      `cannot read config file ${missing}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compileConfig reads the process environment by default under Deno", () => {
  const name = envName("cluster.id");
  assert.equal(name, "FLOTILLA_CLUSTER_ID");
  assert.equal(Deno.env.get("FLOTILLA_CONFIG"), undefined, "test needs FLOTILLA_CONFIG unset");
  const before = Deno.env.get(name);
  Deno.env.set(name, "deno-env");
  try {
    assert.equal(compileConfig()["cluster.id"], "deno-env");
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
});

Deno.test("envName maps keys to FLOTILLA_* variables", () => {
  assert.equal(envName("heartbeat.interval"), "FLOTILLA_HEARTBEAT_INTERVAL");
  assert.equal(envName("rpc.attempt-timeout"), "FLOTILLA_RPC_ATTEMPT_TIMEOUT");
});

// --- ids and logging ----------------------------------------------------------------------------

Deno.test("job ids are 32 hex digits and parse rejects anything else, quoting it", () => {
  const id = newJobId();
  assert.ok(isJobId(id));
  assert.notEqual(newJobId(), id);
  assert.equal(parseJobId(id), id);
  assert.throws(
    () => parseJobId("nope"),
    (err: unknown) =>
      err instanceof InvalidArgumentError &&
      err.code === ErrorCode.INVALID_ARGUMENT &&
      err.message.includes('"nope"'),
  );
  assert.equal(parseTaskManagerId("tm-1"), "tm-1");
  assert.throws(() => parseTaskManagerId("tm.1"), InvalidArgumentError);
});

Deno.test("createLogger writes JSON lines with the block's bindings at or above its level", () => {
  const lines: string[] = [];
  const log = createLogger({
    level: "info",
    bindings: { role: "resourcemanager", cluster: "c1" },
    destination: { write: (line: string) => lines.push(line) },
  });
  log.debug("hidden");
  log.info({ slots: 4 }, "registered");
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!);
  assert.equal(entry.msg, "registered");
  assert.equal(entry.role, "resourcemanager");
  assert.equal(entry.cluster, "c1");
  assert.equal(entry.slots, 4);
  assert.equal(entry.level, 30);
  assert.match(entry.time, /^\d{4}-\d{2}-\d{2}T/);
});
