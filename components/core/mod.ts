/** Public API of components/core: ids, typed errors, configuration, logging and codecs. */

export { Admission, RateLimit } from "./admission.ts";
export { type Clock, systemClock } from "./clock.ts";
export {
  CBOR_TYPE,
  type Codec,
  cbor,
  codecFor,
  decodeBody,
  JSON_TYPE,
  json,
  MAX_PLAIN_DEPTH,
  notPlainData,
  plainCbor,
} from "./codec.ts";
export {
  type Config,
  type ConfigKey,
  type ConfigKeyReference,
  type ConfigOptions,
  compileConfig,
  configEnv,
  configKeys,
  configReference,
  envName,
} from "./config.ts";
export { checkDurations, checkHeartbeat } from "./durations.ts";
export {
  codeForStatus,
  ErrorCode,
  ensureError,
  FlotillaError,
  fromWire,
  InvalidArgumentError,
  InvalidConfigError,
  NotFoundError,
  StaleLeaderError,
  statusOf,
  TimeoutError,
  toFlotillaError,
  typedError,
  UnavailableError,
  type WireError,
} from "./errors.ts";
export {
  type AllocationId,
  type AttemptId,
  attemptId,
  isJobId,
  type JobId,
  newAllocationId,
  newJobId,
  newTaskManagerId,
  parseAllocationId,
  parseAttemptId,
  parseJobId,
  parseSlotId,
  parseTaskManagerId,
  type SlotId,
  slotId,
  type TaskManagerId,
  vertexHexId,
} from "./ids.ts";
export {
  createLogger,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from "./log.ts";
export { LruCache } from "./lru.ts";
export {
  BlockRole,
  blobBucketName,
  type ChannelAddress,
  checkpointKey,
  decodeToken,
  encodeToken,
  GRAPH_WORKER_COMMAND,
  isClusterCredentialName,
  JOB_PROCESS_COMMAND,
  JOB_SECRET_NAME,
  jobKey,
  KeyPrefix,
  kvBucketName,
  leaderKey,
  MASTER_LEASE,
  SNAPSHOT_METADATA,
  snapshotKey,
  snapshotPrefix,
  subjects,
} from "./names.ts";
export { jobSecretFiles, packageRootOf, permissionFlag } from "./sandbox.ts";
export {
  isJobEnd,
  isTaskEnd,
  type JobEnd,
  JobState,
  TaskState,
} from "./states.ts";
