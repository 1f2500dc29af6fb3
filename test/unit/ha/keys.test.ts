/** Key and bucket names: any job id or role becomes a valid NATS KV token, and back. */
import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import {
  checkpointKey,
  decodeToken,
  encodeToken,
  jobKey,
  KeyPrefix,
  leaderKey,
} from "../../../components/ha/keys.ts";
import { blobBucketName, kvBucketName } from "../../../components/ha/mod.ts";

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
