/**
 * The TaskManager's graph cache is bounded: at most `maxJobs` jobs and `maxShapes` shapes each,
 * least recently deployed out first; an evicted graph is built again by its next deployment, and
 * a job that leaves takes its graphs with it.
 */
import t from "tap";
import { type AllocationId, type JobId, newJobId, subjects } from "../../../components/core/mod.ts";
import { type TaskDescriptor, taskDescriptorSchema } from "../../../components/protocol/mod.ts";
import { JobGraphs } from "../../../components/taskmanager/job_graphs.ts";
import { endlessJob } from "./fixtures.ts";

const { bytes, artifact, vertexId } = await endlessJob();
let loads = 0;
const graphs = new JobGraphs(
  {
    get: async (key) => {
      loads++;
      return key === artifact ? bytes : undefined;
    },
  },
  { maxJobs: 2, maxShapes: 2 },
);
const deployment = (jobId: JobId, parallelism = 1): TaskDescriptor =>
  taskDescriptorSchema.parse({
    jobId,
    attempt: 0,
    vertexId,
    subtask: 0,
    allocationId: "alloc-1" as AllocationId,
    jmSubject: subjects.jobManager("t", jobId),
    artifact,
    parallelism,
  });

t.test("at most maxJobs jobs, least recently deployed out first", async (t) => {
  const [a, b, c] = [newJobId(), newJobId(), newJobId()];
  await graphs.graphFor(deployment(a));
  await graphs.graphFor(deployment(b));
  t.equal(loads, 2);
  await graphs.graphFor(deployment(a)); // a again: cached, and now the most recent
  t.equal(loads, 2, "a cached graph is not built again");
  await graphs.graphFor(deployment(c));
  t.same(graphs.jobs(), [a, c], "b, the least recently deployed, went");
  await graphs.graphFor(deployment(b));
  t.equal(loads, 4, "an evicted job's graph is built again when deployed");
  graphs.forget(b);
  t.same(graphs.jobs(), [c], "a job that leaves takes its graphs with it");
});

t.test("at most maxShapes shapes per job", async (t) => {
  const job = newJobId();
  const before = loads;
  for (const p of [1, 2, 3]) await graphs.graphFor(deployment(job, p));
  await graphs.graphFor(deployment(job, 3));
  t.equal(loads - before, 3, "the newest shape is kept");
  await graphs.graphFor(deployment(job, 1));
  t.equal(loads - before, 4, "the oldest shape went: built again");
});
