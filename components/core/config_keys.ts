/**
 * Every configuration key: its schema, default and what it does. The README's configuration
 * reference is generated from this table (npm run docs:config).
 */
import { z } from "zod";
import {
  absolutePaths,
  clusterAddress,
  duration,
  key,
  optionalName,
  port,
  resourceAmounts,
  subjectToken,
} from "./config_schemas.ts";

/** Every configuration key, its default and what it does. The README reference is generated from this. */
export const configKeys = {
  "cluster.id": key(
    subjectToken,
    "default",
    "Names the cluster; every NATS subject starts with it.",
  ),
  "cluster.instance-id": key(
    z.string().regex(/^[A-Za-z0-9_.-]{0,64}$/, "up to 64 letters, digits, '.', '-' and '_'"),
    "",
    "Names this process: in leader leases, and on the TaskManager containers its docker driver starts (label org.flotilla.managed-by). Empty: the role (auto: the hostname) plus a random suffix in leases, the hostname on containers.",
  ),
  "cluster.address": key(
    clusterAddress,
    "",
    "Client: the cluster the CLI's job commands talk to (flag --cluster): http://host:8081 (REST) or nats://host:4222 (the same API over NATS). Empty: run starts an embedded MiniCluster; list, status, cancel, stop and savepoint need one.",
  ),
  "client.timeout": key(
    duration,
    30_000,
    "Client: deadline of one CLI request to the cluster's REST API, over HTTP or NATS (Flink's client.timeout).",
  ),
  "client.cancel-timeout": key(
    duration,
    60_000,
    "Client: how long flotilla cancel waits for the canceled job to end before it gives up (flag --timeout).",
  ),
  "nats.url": key(z.string().min(1), "nats://127.0.0.1:4222", "NATS server(s), comma-separated."),
  "nats.user": key(
    z.string(),
    "",
    "NATS user name, with nats.password-file (for a server whose users have passwords).",
  ),
  "nats.password-file": key(z.string(), "", "File holding the NATS password of nats.user."),
  "nats.token-file": key(z.string(), "", "File holding a NATS authentication token."),
  "nats.nkey-file": key(
    z.string(),
    "",
    "File holding this process's NATS nkey seed (SU...): how the compose layouts' roles authenticate (flotilla cluster secrets makes one per role).",
  ),
  "nats.job-nkey-file": key(
    z.string(),
    "",
    "File holding the NATS nkey seed of the job user, which a TaskManager's job code (its NATS sources and sinks) connects to the cluster's NATS as: an account of its own, with none of the cluster's subjects. Empty on a cluster whose NATS has users: job code gets no connection to it (one to servers the job names still works).",
  ),
  "nats.creds-file": key(
    z.string(),
    "",
    "A NATS credentials file (a user JWT and its nkey seed), for servers in operator mode.",
  ),
  "nats.inbox-prefix": key(
    z.string().regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '-' and '_'"),
    "_INBOX",
    "Prefix of the subjects this process's replies come back on; a NATS user whose permissions allow only its own (_INBOX_<role>) cannot read another role's replies.",
  ),
  "nats.tls.ca-file": key(
    z.string(),
    "",
    "CA certificate (PEM) that NATS server certificates are checked against; set, the connection uses TLS.",
  ),
  "nats.tls.cert-file": key(
    z.string(),
    "",
    "Client certificate (PEM) for mutual TLS with NATS, with nats.tls.key-file.",
  ),
  "nats.tls.key-file": key(z.string(), "", "Private key (PEM) of nats.tls.cert-file."),
  "rpc.timeout": key(duration, 5000, "Deadline of one control-plane call, retries included."),
  "rpc.attempt-timeout": key(
    duration,
    1000,
    "Deadline of one attempt of an idempotent call, which is retried within rpc.timeout.",
  ),
  "heartbeat.interval": key(duration, 1000, "How often blocks ping the blocks they depend on."),
  "heartbeat.timeout": key(duration, 5000, "Silence after which a target counts as lost."),
  "rest.address": key(
    z.string().min(1),
    "127.0.0.1",
    "Address the REST/HTTP endpoint binds to. The images set 0.0.0.0 (a container's port is published by compose, on 127.0.0.1 unless FLOTILLA_REST_BIND says otherwise).",
  ),
  "rest.port": key(port, 8081, "Port of the REST/HTTP endpoint (0 picks a free one)."),
  "rest.tls.cert-file": key(
    z.string(),
    "",
    "Server: certificate (PEM) of the REST endpoint; with rest.tls.key-file it serves HTTPS only.",
  ),
  "rest.tls.key-file": key(z.string(), "", "Server: private key (PEM) of rest.tls.cert-file."),
  "rest.tls.ca-file": key(
    z.string(),
    "",
    "Client: CA certificate (PEM) the CLI checks an https:// cluster's certificate with (besides the system's); empty: the ca of credentials.dir when flotilla cluster secrets --tls made one.",
  ),
  "rest.authentication": key(
    z.enum(["token", "none"]),
    "token",
    "token: every REST route but /healthz needs a bearer token (rest.token-file, rest.read-token-file). none: no check at all, for a REST port that only a trusted proxy reaches; the process warns at start.",
  ),
  "rest.token-file": key(
    z.string(),
    "",
    "File of the admin REST token (one per line; several while rotating): it may read everything and upload, submit, cancel, stop, savepoint and rescale. A server without one generates a token into credentials.dir and logs the file's path; the CLI sends the token of this file (flag --token-file), or else of the one generated for cluster.id, if there is one.",
  ),
  "rest.read-token-file": key(
    z.string(),
    "",
    "File of read-only REST tokens (one per line): every GET route, nothing that changes state. Empty: no read-only tokens.",
  ),
  "metrics.token-file": key(
    z.string(),
    "",
    "File of metrics tokens (one per line): they may read /metrics and /metrics/targets on the health port (Prometheus scrapes with one) and nothing else. The health port's /metrics needs a bearer token (one of these, or a REST read or admin token) whenever the process has one of them; /healthz stays open. With rest.authentication: none, /metrics is open too.",
  ),
  "web.checkpoints.history": key(
    z.coerce.number().int().min(1).max(1000),
    10,
    "How many of a job's latest checkpoints its JobManager keeps whole for the REST API's checkpoint history and details, per-subtask details included (Flink's web.checkpoints.history); counts and summaries cover every checkpoint. An ended job's archive keeps what fits in its result record.",
  ),
  "web.exception-history-size": key(
    z.coerce.number().int().min(1).max(1000),
    16,
    "How many failures (each with the failures of the same attempt) a job's exception history keeps, newest first (Flink's web.exception-history-size).",
  ),
  "web.submit.enable": key(
    z.union([z.boolean(), z.enum(["true", "false"]).transform((text) => text === "true")]),
    true,
    "false: the REST API refuses artifact uploads and job submissions (403), as Flink's web.submit.enable does; jobs already running can still be listed, canceled and stopped.",
  ),
  "credentials.dir": key(
    z.string(),
    "",
    "Where this machine keeps a cluster's generated credentials: the REST token a server generates without rest.token-file, and what flotilla cluster secrets (and cluster up, run --target compose-job) generate for the compose layouts, which mount them as compose secrets: REST tokens, NATS nkey seeds and the NATS users configuration. Empty: ~/.flotilla/<cluster.id>.",
  ),
  "health.port": key(
    port,
    0,
    "GET /healthz over plain HTTP on this port, for a container HEALTHCHECK: roles without the REST API (taskmanager, resourcemanager, jobmanager), and the others when it differs from rest.port (their REST API on HTTPS); 0: none.",
  ),
  "taskmanager.id": key(
    optionalName,
    "",
    "This TaskManager's id (in its subject and slot ids); empty: a fresh random one. The process and docker drivers set it for the TaskManagers they start.",
  ),
  "taskmanager.slots": key(
    z.coerce.number().int().min(1).max(1024),
    2,
    "Slots one TaskManager offers.",
  ),
  "taskmanager.cpu": key(
    z.coerce.number().min(0),
    0,
    "CPU cores one slot offers (0: not declared).",
  ),
  "taskmanager.memory-mb": key(
    z.coerce.number().min(0),
    0,
    "Memory (MB) one slot offers (0: not declared).",
  ),
  "taskmanager.extended-resources": key(
    resourceAmounts,
    "",
    "Extended resources one slot offers, as name=amount pairs (gpu=1,fpga=2). The process and docker drivers set this, taskmanager.slots (1), .cpu and .memory-mb to the profile the ResourceManager asked for.",
  ),
  "taskmanager.job-process": key(
    z.enum(["process", "none"]),
    "process",
    "Where a TaskManager started as a role runs its subtasks: process (one child process per job under Node's permission model: no environment, no credentials, reads of flotilla, the job's secrets and the job user's NATS files only; its data plane, snapshots and reports go through the TaskManager, which passes the job's own subjects and keys only) or none (in the TaskManager's process, which holds its credentials; the embedded MiniCluster always runs subtasks in its own process).",
  ),
  "taskmanager.job-process-read": key(
    absolutePaths,
    "",
    "Files and directories a job process may read besides flotilla's code and the job's secrets: the data its sources read (comma-separated absolute paths; the images set /data, where the compose layouts mount FLOTILLA_DATA_DIR). Never a directory holding the cluster's credentials.",
  ),
  "taskmanager.job-process-write": key(
    absolutePaths,
    "",
    "Files and directories a job process may write (its file sinks' directories; comma-separated absolute paths). None by default.",
  ),
  "taskmanager.job-process-memory-mb": key(
    z.coerce.number().int().min(16),
    1024,
    "V8 heap limit (MB) of each job process (taskmanager.job-process: process).",
  ),
  "resourcemanager.driver": key(
    z.enum(["static", "process", "docker"]),
    "static",
    "How the ResourceManager gets TaskManagers: static (they join by themselves), process (it starts local ones) or docker (it starts containers through the Docker Engine API).",
  ),
  "resourcemanager.taskmanager-nkey-file": key(
    z.string(),
    "",
    "The NATS nkey seed file of the TaskManagers the ResourceManager's driver starts: the docker driver copies it into each container (never into its environment), the process driver names it. Empty: they authenticate as the ResourceManager does.",
  ),
  "resourcemanager.taskmanager-job-nkey-file": key(
    z.string(),
    "",
    "The job user's nkey seed file for the TaskManagers the ResourceManager's driver starts (their nats.job-nkey-file), handed over as resourcemanager.taskmanager-nkey-file is.",
  ),
  "resourcemanager.taskmanager-tls-cert-file": key(
    z.string(),
    "",
    "The NATS client certificate (PEM) of the TaskManagers the ResourceManager's driver starts, handed over as resourcemanager.taskmanager-nkey-file is (with this process's nats.tls.ca-file).",
  ),
  "resourcemanager.taskmanager-tls-key-file": key(
    z.string(),
    "",
    "The private key of resourcemanager.taskmanager-tls-cert-file.",
  ),
  "slotmanager.number-of-slots.max": key(
    z.coerce.number().int().min(1).max(1_048_576),
    4096,
    "Most slots the ResourceManager registers at once; a TaskManager registration past it is refused (429).",
  ),
  "resourcemanager.taskmanager-timeout": key(
    duration,
    30_000,
    "How long an idle TaskManager is kept before its driver stops it.",
  ),
  "docker.socket": key(
    z.string().min(1),
    "/var/run/docker.sock",
    "Docker driver: the Docker Engine API socket (in a container: mount the host's socket there).",
  ),
  "docker.taskmanager-image": key(
    z.string().min(1),
    "flotilla/taskmanager:latest",
    "Docker driver: the image of the TaskManager containers (built by npm run images; never pulled).",
  ),
  "docker.network": key(
    z.string(),
    "",
    "Docker driver: the network TaskManager containers join; it must reach NATS (in compose: the project's network). Empty: the daemon's default bridge.",
  ),
  "docker.max-taskmanagers": key(
    z.coerce.number().int().min(0),
    16,
    "Docker driver: most TaskManager containers at once, adopted ones included (0: no limit), so that jobs asking for ever more slots cannot fill the Docker host.",
  ),
  "docker.taskmanager-pids-limit": key(
    z.coerce.number().int().min(16),
    256,
    "Docker driver: most processes and threads in one TaskManager container (HostConfig.PidsLimit): a fork bomb in job code stops there.",
  ),
  "docker.taskmanager-memory-mb": key(
    z.coerce.number().int().min(64),
    1024,
    "Docker driver: memory limit (MB) of a TaskManager container whose resource profile names no memory; a profile's memory is its limit otherwise.",
  ),
  "docker.taskmanager-tmpfs-mb": key(
    z.coerce.number().int().min(1),
    256,
    "Docker driver: size (MB) of the in-memory /tmp of a TaskManager container, whose root file system is read-only (it counts against the container's memory).",
  ),
  "docker.proxy-socket": key(
    z.string().min(1),
    "/run/flotilla-docker/docker.sock",
    "Docker socket proxy (flotilla start docker-proxy): the unix socket it serves on, the ResourceManager's docker.socket in the compose layouts. It forwards to docker.socket only the docker driver's calls, on containers of cluster.id made from docker.taskmanager-image on docker.network, confined.",
  ),
  "process.max-taskmanagers": key(
    z.coerce.number().int().min(0),
    16,
    "Process driver: most TaskManager processes at once (0: no limit).",
  ),
  "slot.request.timeout": key(
    duration,
    300_000,
    "A job whose slots do not come within this long fails.",
  ),
  "task.cancellation.timeout": key(
    duration,
    5000,
    "How long a JobManager waits for an attempt's canceled tasks to report they stopped (on a restart, a rescale, a cancel or a stop) before it goes on without them (Flink's task.cancellation.timeout).",
  ),
  "dispatcher.graph-sandbox": key(
    z.enum(["process", "none"]),
    "process",
    "Where a Dispatcher (or a job-mode JobManager) builds a submitted job's graph: process (a child process under Node's permission model: no environment, no credentials, reads of flotilla, the artifact and the job's secrets only) or none (in its own process, which holds the cluster's credentials; the embedded MiniCluster always does this).",
  ),
  "dispatcher.graph-timeout": key(
    duration,
    30_000,
    "How long building a job's graph in the sandbox may take before the submission fails (a job's main function must return its dataflow, not run).",
  ),
  "dispatcher.max-running-jobs": key(
    z.coerce.number().int().min(1).max(1_000_000),
    1000,
    "Most jobs not ended at once (running, restarting or waiting for slots): one more submission is refused with 429 until one ends.",
  ),
  "jobstore.max-capacity": key(
    z.coerce.number().int().min(1).max(1_000_000),
    1000,
    "How many ended jobs the Dispatcher keeps (their result, details and collected results); past it the oldest ended job is forgotten and answers 404 (Flink's jobstore.max-capacity).",
  ),
  "jobstore.expiration-time": key(
    duration,
    3_600_000,
    "How long the Dispatcher keeps an ended job before forgetting it (then 404); checked on a timer and whenever a job ends (Flink's jobstore.expiration-time).",
  ),
  "rest.async.store-duration": key(
    duration,
    300_000,
    "How long the Dispatcher keeps a completed savepoint's or stop's outcome for GET /jobs/:jobid/savepoints/:triggerid (then 404), and a trigger id for an idempotent retry (Flink's rest.async.store-duration). At most 1,000 operations are kept at once.",
  ),
  "blob.artifact-ttl": key(
    duration,
    3_600_000,
    "An uploaded artifact no unended job refers to is deleted from the blob store once it has been unused this long (0: as soon as the sweep sees it unused).",
  ),
  "blob.max-artifacts": key(
    z.coerce.number().int().min(1).max(1_000_000),
    1000,
    "Most artifacts in the blob store: an upload past it first collects unused artifacts (oldest first), and is refused with 503 NO_RESOURCES while every artifact is in use.",
  ),
  "blob.service.cleanup.interval": key(
    duration,
    300_000,
    "How often the leading Dispatcher sweeps the blob store for artifacts past blob.artifact-ttl (Flink's blob.service.cleanup.interval).",
  ),
  "collect-sink.max-records": key(
    z.coerce.number().int().min(1).max(100_000_000),
    100_000,
    "Most values a job's collect sinks may hand back in total (kept in the JobManager until the job is forgotten): one more fails the job, without a restart, naming this key.",
  ),
  "jobmanager.scheduler": key(
    z.enum(["default", "adaptive"]),
    "default",
    "Scheduler of jobs that do not choose one (job option scheduler): default waits for every slot; adaptive runs with the slots there are between jobmanager.adaptive-scheduler.min-parallelism and the job's parallelism, and rescales as TaskManagers come and go.",
  ),
  "jobmanager.scheduler-mode": key(
    z.enum(["", "reactive"]),
    "",
    "reactive: every job uses the adaptive scheduler and as many slots as the cluster offers, up to its maxParallelism (Flink's reactive mode; meant for clusters whose TaskManagers are started from outside).",
  ),
  "jobmanager.adaptive-scheduler.resource-stabilization-timeout": key(
    duration,
    2000,
    "Adaptive scheduler: after slots appear or vanish, how long to wait for more before (re)starting at what is there; no wait once the job's upper bound is reached.",
  ),
  "jobmanager.adaptive-scheduler.min-parallelism": key(
    z.coerce.number().int().min(1).max(32768),
    1,
    "Adaptive scheduler: the lowest parallelism a job runs at: the lower bound of every vertex that follows the job's parallelism, until PUT /jobs/:id/resource-requirements changes it.",
  ),
  "ha.lease": key(duration, 3000, "Leader lease: a leader that cannot renew within it steps down."),
  "secrets.dir": key(
    z.string().min(1),
    "/run/secrets",
    "The directory env.secret(name) reads a job's secrets from, wherever the job graph is built (compose and swarm mount secrets there).",
  ),
  "artifact.cache-dir": key(
    z.string(),
    "",
    "Where loaded job artifacts are cached by their hash (Flink's blob.storage.directory). Empty: flotilla-artifacts in the OS temp directory.",
  ),
  "job.secret-file": key(
    z.string(),
    "",
    'run --target compose-job: the host file the per-job stack gets as the compose secret job (env.secret("job")); empty: an empty secret.',
  ),
  "job.file": key(
    z.string(),
    "",
    "Job mode: the job module the jobmanager role runs (.ts bundled at start, or a bundled .mjs).",
  ),
  "job.args": key(
    z.string().regex(/^([^=,]+=[^,]*(,[^=,]+=[^,]*)*)?$/, "key=value pairs separated by commas"),
    "",
    "Job mode: job arguments as key=value,key=value.",
  ),
  "job.parallelism": key(
    z.coerce.number().int().min(0),
    0,
    "Job mode: parallelism override (0: the job's own).",
  ),
  "log.level": key(
    z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
    "info",
    "Lowest level of log lines written (JSON lines on stdout).",
  ),
} as const;

export type Keys = typeof configKeys;
export type ConfigKey = keyof Keys;
export type Config = { readonly [K in ConfigKey]: z.output<Keys[K]["schema"]> };
