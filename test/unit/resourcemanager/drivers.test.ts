/** Drivers without a cluster: what they say they can start, and how they fail. */
import t from "tap";
import {
  ErrorCode,
  FlotillaError,
  InvalidArgumentError,
  type TaskManagerId,
} from "../../../components/core/mod.ts";
import {
  ANY_PROFILE,
  processDriver,
  profile,
  staticDriver,
} from "../../../components/resourcemanager/mod.ts";

t.test("the static driver starts nothing and owns nothing", async (t) => {
  const driver = staticDriver();
  t.equal(driver.kind, "static");
  t.notOk(driver.canStart(ANY_PROFILE));
  t.notOk(driver.canStart(profile(1, 1)));
  await t.rejects(driver.startTaskManager(profile(2, 512)), {
    code: ErrorCode.NO_RESOURCES,
    message: /cannot start TaskManagers \(asked for cpu=2,memoryMb=512\)/,
  });
  t.equal(await driver.stopTaskManager("tm-x" as TaskManagerId), false);
});

t.test("the process driver can start what fits its largest profile", async (t) => {
  const driver = processDriver({
    command: ["true"],
    maxProfile: profile(4, 8192, { gpu: 1 }),
    defaultProfile: profile(1, 2048),
  });
  t.equal(driver.kind, "process");
  t.ok(driver.canStart(profile(4, 8192, { gpu: 1 })));
  t.ok(driver.canStart(ANY_PROFILE), "ANY means the default profile");
  t.notOk(driver.canStart(profile(8, 1024)), "too many cpus");
  t.notOk(driver.canStart(profile(1, 1024, { gpu: 2 })), "too many gpus");
  t.ok(processDriver({ command: ["true"] }).canStart(profile(64, 1 << 20)), "no limit by default");
  t.notOk(
    processDriver({
      command: ["true"],
      defaultProfile: profile(8, 1),
      maxProfile: profile(4, 8),
    }).canStart(ANY_PROFILE),
    "a default bigger than the limit",
  );
  t.equal(await driver.stopTaskManager("tm-x" as TaskManagerId), false, "not one of its own");
});

t.test("the process driver: no command is an error; a missing binary rejects", async (t) => {
  t.throws(() => processDriver({ command: [] }), InvalidArgumentError);
  const driver = processDriver({
    command: ["/nonexistent/flotilla-taskmanager"],
    output: "ignore",
  });
  const error = await driver.startTaskManager(profile(1, 1)).catch((e) => e);
  t.ok(error instanceof FlotillaError);
  t.equal(error.code, ErrorCode.UNAVAILABLE);
  t.match(error.message, /cannot start TaskManager process .*nonexistent.*ENOENT/);
  t.same(driver.running(), [], "nothing tracked");
});

t.test(
  "the process driver passes the profile in the environment and counts its children",
  async (t) => {
    let exited!: (code: number) => void;
    const exitCode = new Promise<number>((resolve) => {
      exited = resolve;
    });
    const driver = processDriver({
      command: [
        process.execPath,
        "-e",
        "process.exit(Number(process.env.FLOTILLA_TASKMANAGER_CPU) * 10 + (process.env.FLOTILLA_TASKMANAGER_EXTENDED_RESOURCES === 'gpu=1' ? 1 : 0))",
      ],
      maxTaskManagers: 1,
      output: "ignore",
      onExit: (_tm, code) => exited(code ?? -1),
    });
    t.teardown(() => driver.stop());
    await driver.startTaskManager(profile(3, 64, { gpu: 1 }));
    t.notOk(driver.canStart(profile(1, 1)), "at most one at a time");
    t.equal(
      await exitCode,
      31,
      "cpu 3 and the gpu arrived as taskmanager.cpu and taskmanager.extended-resources",
    );
    t.ok(driver.canStart(profile(1, 1)), "the exited child no longer counts");
  },
);
