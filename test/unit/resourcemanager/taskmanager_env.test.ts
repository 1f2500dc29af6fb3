/** What a driver tells a TaskManager it starts is what that TaskManager's config then says. */
import t from "tap";
import { compileConfig, type TaskManagerId } from "../../../components/core/mod.ts";
import { taskManagerEnv } from "../../../components/resourcemanager/drivers/taskmanager_env.ts";
import { profile } from "../../../components/resourcemanager/mod.ts";

const tmId = "tm-driven" as TaskManagerId;

t.test("the child's compileConfig reads its id and one slot of the asked profile", async (t) => {
  const config = compileConfig({
    env: taskManagerEnv(tmId, profile(2.5, 768, { gpu: 1, fpga: 2 })),
  });
  t.equal(config["taskmanager.id"], tmId);
  t.equal(config["taskmanager.slots"], 1);
  t.equal(config["taskmanager.cpu"], 2.5);
  t.equal(config["taskmanager.memory-mb"], 768);
  t.same(config["taskmanager.extended-resources"], { gpu: 1, fpga: 2 });
});

t.test("the driver's values win over what the child inherits from its parent", async (t) => {
  const inherited = {
    FLOTILLA_TASKMANAGER_SLOTS: "8",
    FLOTILLA_TASKMANAGER_EXTENDED_RESOURCES: "gpu=4",
    FLOTILLA_TASKMANAGER_ID: "tm-parent",
  };
  const config = compileConfig({
    env: { ...inherited, ...taskManagerEnv(tmId, profile(1, 1024)) },
  });
  t.equal(config["taskmanager.slots"], 1);
  t.equal(config["taskmanager.id"], tmId);
  t.same(config["taskmanager.extended-resources"], {}, "no extended resources asked: none");
});
