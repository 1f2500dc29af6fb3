/**
 * A fake JobManager for the ResourceManager tests: the two routes the RM calls on a JobManager
 * (from `jobManagerResourceRoutes`), recording each notice so a test can await it.
 */

import type { TaskManagerId } from "../../components/core/mod.ts";
import {
  jobManagerResourceRoutes,
  type ResourcesUnavailable,
  type TaskManagerLost,
} from "../../components/protocol/mod.ts";
import { Recorder } from "./fake_tm.ts";

export function fakeJobManager(subject: string) {
  const unavailable = new Recorder<ResourcesUnavailable>();
  const lost = new Recorder<TaskManagerLost & { tmId: TaskManagerId }>();
  const app = jobManagerResourceRoutes({
    resourcesUnavailable: (notice) => unavailable.push(notice),
    taskManagerLost: (tmId, notice) => lost.push({ tmId, ...notice }),
  });
  return { subject, app, unavailable, lost };
}

export type FakeJobManager = ReturnType<typeof fakeJobManager>;
