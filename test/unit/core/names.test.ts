/**
 * Names built in one place (core/names.ts): subjects per role, data-plane subjects, and key and
 * bucket names (any job id or role becomes a valid NATS KV token, and back).
 */
import t from "tap";
import {
  BlockRole,
  blobBucketName,
  checkpointKey,
  decodeToken,
  ErrorCode,
  encodeToken,
  jobKey,
  KeyPrefix,
  kvBucketName,
  leaderKey,
  snapshotKey,
  snapshotPrefix,
  subjects,
} from "../../../components/core/mod.ts";

/** The KV client's own rule for a key (nats.js validateKey). */
const VALID_KV_KEY = /^[-/=.\w]+$/;

t.test("tokens: readable ids stay readable, everything else is escaped and decodes back", (t) => {
  t.equal(encodeToken("job-1_A"), "job-1_A");
  t.equal(encodeToken("a/b.c"), "a=2Fb=2Ec");
  t.equal(encodeToken("x=y"), "x=3Dy", "the escape character itself is escaped");
  for (const id of ["a/b.c", "with space", "ü-ñ-日本", "=2F", "*", ">", ".", "a..b", "🚀"]) {
    const token = encodeToken(id);
    t.match(token, /^[-=\w]+$/, `${JSON.stringify(id)} -> ${token} has no "." and no wildcard`);
    t.equal(decodeToken(token), id, `${JSON.stringify(id)} round-trips`);
  }
  t.throws(() => encodeToken(""), { code: ErrorCode.INVALID_ARGUMENT });
  t.end();
});

t.test("keys are valid KV keys with one token per part", (t) => {
  t.equal(leaderKey("jm.job/1"), "leader.jm=2Ejob=2F1", "a role is one token");
  t.equal(jobKey(KeyPrefix.JOBS, "j.1"), "jobs.j=2E1");
  t.equal(jobKey(KeyPrefix.RESULTS, "j"), "results.j");
  t.equal(checkpointKey("j/1", 42), "checkpoints.j=2F1.42");
  for (const key of [leaderKey("a b"), jobKey(KeyPrefix.JOBS, "ü"), checkpointKey("x.y", 1)]) {
    t.match(key, VALID_KV_KEY);
  }
  t.end();
});

t.test("bucket names come from the cluster id, which must be bucket-safe", (t) => {
  t.equal(kvBucketName("prod-1"), "flotilla_prod-1");
  t.equal(blobBucketName("prod-1"), "flotilla_prod-1_blobs");
  t.throws(() => kvBucketName("a.b"), { code: ErrorCode.INVALID_ARGUMENT, message: /"a.b"/ });
  t.throws(() => blobBucketName(""), { code: ErrorCode.INVALID_ARGUMENT });
  t.end();
});

t.test("subjects: one per role, under flotilla.<cluster>, with checked tokens", (t) => {
  t.equal(subjects.dispatcher("prod"), "flotilla.prod.dispatcher");
  t.equal(subjects.resourceManager("prod"), "flotilla.prod.resourcemanager");
  t.equal(subjects.jobManager("prod", "ab12"), "flotilla.prod.jobmanager.ab12");
  t.equal(subjects.taskManager("prod", "tm-1"), "flotilla.prod.taskmanager.tm-1");
  t.equal(
    subjects.leader("prod", BlockRole.RESOURCE_MANAGER),
    subjects.resourceManager("prod"),
    "a leader's subject is its role's",
  );
  for (const bad of ["a.b", "a b", "*", ">", ""]) {
    t.throws(
      () => subjects.dispatcher(bad),
      { code: ErrorCode.INVALID_ARGUMENT },
      `cluster ${bad}`,
    );
    t.throws(() => subjects.taskManager("prod", bad), { code: ErrorCode.INVALID_ARGUMENT });
  }
  t.end();
});

t.test("subjects.channel builds the documented data-plane subject and refuses bad tokens", (t) => {
  const address = {
    clusterId: "prod",
    jobId: "ab12",
    attempt: 2,
    edge: "map-sink",
    targetSubtask: 7,
  };
  t.equal(subjects.channel(address), "flotilla.prod.data.ab12.2.map-sink.7");
  t.throws(() => subjects.channel({ ...address, edge: "a.b" }), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /edge/,
  });
  t.throws(() => subjects.channel({ ...address, jobId: "*" }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
  t.end();
});

t.test("object names of snapshots and savepoints", (t) => {
  t.equal(snapshotKey("j1", 3, "0-source", 1), "checkpoints/j1/3/0-source/1");
  t.equal(snapshotPrefix("j1", 3, false), "checkpoints/j1/3");
  t.equal(snapshotPrefix("j1", 3, true), "savepoints/j1/3");
  t.end();
});
