import t from "tap";
import { compileConfig, InvalidConfigError } from "../../../components/core/mod.ts";
import {
  compileResourceManagerConfig,
  resourceManagerConfigFrom,
} from "../../../components/resourcemanager/mod.ts";

t.test("defaults follow DESIGN.md and Flink", async (t) => {
  t.same(compileResourceManagerConfig(), {
    heartbeatIntervalMs: 1000,
    heartbeatTimeoutMs: 5000,
    idleTimeoutMs: 30_000,
    pendingTaskManagerTimeoutMs: 300_000,
    rpcTimeoutMs: 5000,
    rpcAttemptTimeoutMs: 1000,
    maxSlots: 4096,
  });
  t.ok(Object.isFrozen(compileResourceManagerConfig()));
});

t.test("invalid values name the option and the value", async (t) => {
  t.throws(() => compileResourceManagerConfig({ idleTimeoutMs: -1 }), {
    constructor: InvalidConfigError,
    key: "idleTimeoutMs",
    message: /idleTimeoutMs is -1: expected a positive number/,
  });
  t.throws(() => compileResourceManagerConfig({ heartbeatIntervalMs: Number.NaN }), {
    key: "heartbeatIntervalMs",
    message: /heartbeatIntervalMs is NaN/,
  });
  t.throws(
    () => compileResourceManagerConfig({ heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 1000 }),
    { key: "heartbeatTimeoutMs", message: /shorter than the heartbeat interval/ },
  );
});

t.test("from the process configuration, with overrides", async (t) => {
  const config = compileConfig({
    env: { FLOTILLA_HEARTBEAT_INTERVAL: "250ms", FLOTILLA_RPC_TIMEOUT: "2s" },
  });
  t.match(resourceManagerConfigFrom(config, { idleTimeoutMs: 5000 }), {
    heartbeatIntervalMs: 250,
    heartbeatTimeoutMs: 5000,
    rpcTimeoutMs: 2000,
    idleTimeoutMs: 5000,
  });
});

t.test("every RM option the process configuration has a key for comes from it", async (t) => {
  const config = compileConfig({
    env: {
      FLOTILLA_RESOURCEMANAGER_TASKMANAGER_TIMEOUT: "7s",
      FLOTILLA_RPC_TIMEOUT: "3s",
      FLOTILLA_RPC_ATTEMPT_TIMEOUT: "300ms",
    },
  });
  t.match(resourceManagerConfigFrom(config), {
    idleTimeoutMs: 7000,
    rpcTimeoutMs: 3000,
    rpcAttemptTimeoutMs: 300,
  });
});
