/**
 * What the JobManager does for each route of its contract (components/protocol/jobmanager.ts):
 * the TaskManagers' offers and reports, the ResourceManager's news, and the Dispatcher's control
 * calls, each delegated to the JobMaster. `jobManagerApp` is the app a JobManager is served as.
 */
import { ErrorCode, FlotillaError, type Logger } from "../core/mod.ts";
import { type JobManagerHandlers, jobManagerRoutes } from "../protocol/mod.ts";
import type { JobMaster } from "./job_master.ts";

function alreadyEnded(jm: JobMaster): FlotillaError {
  return new FlotillaError(ErrorCode.CONFLICT, `job ${jm.jobId} already ${jm.status()}`);
}

export function jobManagerHandlers(jm: JobMaster): JobManagerHandlers {
  return {
    heartbeat: () => ({ jobId: jm.jobId, state: jm.status() }),
    offerSlots: async (offer) => ({ accepted: await jm.offer(offer) }),
    taskState: (report) => jm.onTaskReport(report),
    taskMetrics: (report) => jm.onTaskMetrics(report),
    // A report of another attempt (or of a JobManager's predecessor) finds no callbacks: ignored.
    acknowledgeCheckpoint: (ack) =>
      jm.checkpointing(ack)?.acknowledge(ack.checkpointId, ack.handle, ack.bytes),
    declineCheckpoint: (decline) =>
      jm.checkpointing(decline)?.decline(decline.checkpointId, decline.reason),
    sourceEnded: (report) => jm.checkpointing(report)?.sourceEnded(),
    results: ({ sinkId, values, batchId }) => jm.addResults(sinkId, values, batchId),
    resourcesUnavailable: ({ missing }) => jm.resourcesUnavailable(missing),
    taskManagerLost: (tmId, { reason }) => jm.taskManagerLost(tmId, reason),
    status: () => jm.info(),
    collected: () => jm.results(),
    cancel() {
      if (jm.ended()) throw alreadyEnded(jm);
      // The cancel proceeds (tasks stop, slots go back); its end shows in the status.
      jm.cancel().catch(() => {});
      return { jobId: jm.jobId, state: jm.status() };
    },
    savepoint: async () => ({ path: await jm.savepoint() }),
    stop({ savepoint }) {
      if (jm.ended()) throw alreadyEnded(jm);
      return savepoint ? jm.stop() : jm.cancel();
    },
    resourceRequirements: () => jm.resourceRequirements(),
    setResourceRequirements: (requirements) => jm.setResourceRequirements(requirements),
    checkpoints: () => jm.checkpoints(),
    checkpointConfig: () => jm.checkpointConfig(),
    checkpointDetails: (checkpointId) => jm.checkpointDetails(checkpointId),
    checkpointSubtasks: (checkpointId, vertexId) => jm.checkpointSubtasks(checkpointId, vertexId),
    exceptions: (query) => jm.exceptions(query),
    archive: () => jm.archive(),
  };
}

/** The JobManager's app: every route of its contract, over `jm`. */
export function jobManagerApp(jm: JobMaster, { log }: { log?: Logger } = {}) {
  return jobManagerRoutes(jobManagerHandlers(jm), log ? { log } : {});
}
