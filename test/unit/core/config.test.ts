import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import {
  compileConfig,
  configEnv,
  configKeys,
  envName,
  InvalidConfigError,
} from "../../../components/core/mod.ts";

const noEnv = {};

t.test("defaults fill every key", (t) => {
  const config = compileConfig({ env: noEnv });
  t.equal(config["heartbeat.interval"], 1000);
  t.equal(config["heartbeat.timeout"], 5000);
  t.equal(config["cluster.id"], "default");
  t.equal(Object.keys(config).length, Object.keys(configKeys).length);
  t.ok(Object.isFrozen(config));
  t.end();
});

t.test("precedence: flags > env > file > defaults", (t) => {
  const file = { "rpc.timeout": 100, "rest.port": 9000, "cluster.id": "from-file" };
  const env = { FLOTILLA_RPC_TIMEOUT: "200", FLOTILLA_REST_PORT: "9001" };
  const config = compileConfig({ file, env, flags: { "rpc.timeout": "300ms" } });
  t.equal(config["rpc.timeout"], 300, "flag wins");
  t.equal(config["rest.port"], 9001, "env beats file");
  t.equal(config["cluster.id"], "from-file", "file beats default");
  t.end();
});

t.test("durations accept ms numbers and unit strings", (t) => {
  const c = (v: unknown) =>
    compileConfig({ env: noEnv, flags: { "heartbeat.timeout": v } })["heartbeat.timeout"];
  t.equal(c(250), 250);
  t.equal(c("250"), 250);
  t.equal(c("2s"), 2000);
  t.equal(c("1.5 s"), 1500);
  t.equal(c("1m"), 60_000);
  t.end();
});

t.test("an invalid value is an error naming the key, the value and where it came from", (t) => {
  t.throws(() => compileConfig({ env: { FLOTILLA_HEARTBEAT_INTERVAL: "soon" } }), {
    name: "InvalidConfigError",
    key: "heartbeat.interval",
    message:
      /invalid value "soon" for config key 'heartbeat.interval' \(from env FLOTILLA_HEARTBEAT_INTERVAL\)/,
  });
  t.throws(
    () => compileConfig({ env: noEnv, flags: { "rest.port": 70000 } }),
    /'rest.port' \(from flag --rest.port\)/,
  );
  t.throws(() => compileConfig({ env: noEnv, flags: { "cluster.id": "a.b" } }), InvalidConfigError);
  t.throws(() => compileConfig({ env: noEnv, flags: { "log.level": "loud" } }), /log.level/);
  t.end();
});

t.test("unknown keys in a file or flags are rejected with the list of known keys", (t) => {
  t.throws(() => compileConfig({ env: noEnv, file: { "heartbeat.intervall": 5 } }), {
    key: "heartbeat.intervall",
    message: /unknown config key 'heartbeat.intervall'.*known keys: cluster.id/,
  });
  t.throws(
    () => compileConfig({ env: noEnv, flags: { nope: 1 } }),
    /unknown config key 'nope' in flags/,
  );
  t.end();
});

t.test("a JSON config file is read from a path, also through FLOTILLA_CONFIG", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-config-"));
  const path = join(dir, "flotilla.json");
  writeFileSync(path, JSON.stringify({ "heartbeat.timeout": "7s" }));
  t.equal(compileConfig({ env: noEnv, file: path })["heartbeat.timeout"], 7000);
  t.equal(compileConfig({ env: { FLOTILLA_CONFIG: path } })["heartbeat.timeout"], 7000);
  writeFileSync(path, "{not json");
  t.throws(() => compileConfig({ env: noEnv, file: path }), /is not valid JSON/);
  t.throws(
    () => compileConfig({ env: noEnv, file: join(dir, "missing.json") }),
    /cannot read config file/,
  );
  writeFileSync(path, "[1,2]");
  t.throws(() => compileConfig({ env: noEnv, file: path }), /must hold a JSON object/);
  t.end();
});

t.test("env names follow the key", (t) => {
  t.equal(envName("heartbeat.interval"), "FLOTILLA_HEARTBEAT_INTERVAL");
  t.equal(envName("rpc.attempt-timeout"), "FLOTILLA_RPC_ATTEMPT_TIMEOUT");
  t.end();
});

t.test("extended resources: name=amount pairs from env or flags, an object from a file", (t) => {
  const from = (options: Parameters<typeof compileConfig>[0]) =>
    compileConfig(options)["taskmanager.extended-resources"];
  t.same(from({ env: noEnv }), {}, "none by default");
  t.same(from({ env: { FLOTILLA_TASKMANAGER_EXTENDED_RESOURCES: "gpu=1,fpga=2.5" } }), {
    gpu: 1,
    fpga: 2.5,
  });
  t.same(from({ env: noEnv, file: { "taskmanager.extended-resources": { gpu: 2 } } }), { gpu: 2 });
  t.throws(
    () => compileConfig({ env: { FLOTILLA_TASKMANAGER_EXTENDED_RESOURCES: "gpu" } }),
    /'taskmanager.extended-resources' \(from env FLOTILLA_TASKMANAGER_EXTENDED_RESOURCES\)/,
  );
  t.end();
});

t.test("ids and addresses are checked where they are configured", (t) => {
  const bad = (flags: Record<string, unknown>, key: string) =>
    t.throws(
      () => compileConfig({ env: noEnv, flags }),
      { code: "INVALID_CONFIG", key },
      JSON.stringify(flags),
    );
  bad({ "cluster.address": "localhost:8081" }, "cluster.address");
  bad({ "taskmanager.id": "tm.1" }, "taskmanager.id");
  bad({ "cluster.instance-id": "a b" }, "cluster.instance-id");
  const ok = compileConfig({
    env: noEnv,
    flags: { "cluster.address": "nats://h:4222", "taskmanager.id": "tm-1", "client.timeout": "2s" },
  });
  t.equal(ok["cluster.address"], "nats://h:4222");
  t.equal(ok["taskmanager.id"], "tm-1");
  t.equal(ok["client.timeout"], 2000);
  t.end();
});

t.test("configEnv is what a child's compileConfig reads back", (t) => {
  const env = configEnv({ "heartbeat.interval": 250, "cluster.id": "c1", "taskmanager.slots": 1 });
  t.same(env, {
    FLOTILLA_HEARTBEAT_INTERVAL: "250",
    FLOTILLA_CLUSTER_ID: "c1",
    FLOTILLA_TASKMANAGER_SLOTS: "1",
  });
  const child = compileConfig({ env });
  t.equal(child["heartbeat.interval"], 250);
  t.equal(child["cluster.id"], "c1");
  t.equal(child["taskmanager.slots"], 1);
  t.end();
});
