/**
 * Docker for the image and compose tests. `ensureDocker()` runs scripts/docker-env.sh once per
 * process (engine and compose installed and started when missing, base images or their local
 * stand-ins, the role images) and returns the names the tests and compose files need. It fails,
 * never skips: a machine that cannot provide Docker fails these tests with the script's reason.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ROLES = ["dispatcher", "resourcemanager", "jobmanager", "taskmanager"] as const;
export type Role = (typeof ROLES)[number];

export interface DockerEnv {
  /** Base of the role images: node:24-bookworm-slim, or the local stand-in. */
  nodeImage: string;
  /** NATS image for compose and tests: nats:2.10, or the local stand-in. */
  natsImage: string;
  /** Each role's image as built from this checkout: flotilla/<role>:<package version>. */
  images: Record<Role, string>;
  /** What the compose files read: NODE_IMAGE, FLOTILLA_NATS_IMAGE, FLOTILLA_IMAGE_TAG. */
  composeEnv: Record<string, string>;
}

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface DockerOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill the command after this long; its result then has code null. @default 60000 */
  timeoutMs?: number;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

function capture(
  cmd: string,
  args: string[],
  { env = process.env, timeoutMs = 60_000 }: DockerOptions = {},
): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `docker <args>` and captures its output; a non-zero exit is a result, not an error. */
export function docker(args: string[], options?: DockerOptions): Promise<DockerResult> {
  return capture("docker", args, options);
}

/**
 * What tests read of a container's inspect output (the Engine API's `ContainerInspectResponse`,
 * which `docker inspect` prints and `GET /containers/{id}/json` answers).
 */
/**
 * The TaskManager containers a docker driver started for `clusterId` (by its labels), sorted;
 * with `all`, stopped ones too.
 */
export async function drivenTaskManagers(
  clusterId: string,
  { all = false } = {},
): Promise<string[]> {
  const { stdout } = await docker([
    "ps",
    all ? "-aq" : "-q",
    "--filter",
    `label=org.flotilla.cluster=${clusterId}`,
    "--filter",
    "label=org.flotilla.role=taskmanager",
  ]);
  return stdout.split("\n").filter(Boolean).sort();
}

export interface ContainerInspect {
  Id: string;
  /** With a leading slash: `/flotilla-...`. */
  Name: string;
  State: { Status: string; Running: boolean; Health?: { Status: string } };
  Config: { Image: string; Env: string[]; Labels: Record<string, string> };
  HostConfig: { Memory: number; NanoCpus: number; RestartPolicy: { Name: string } };
  NetworkSettings: {
    Networks: Record<string, unknown>;
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  };
}

/** What tests read of an image's inspect output (the Engine API's `ImageInspect`). */
export interface ImageInspect {
  Size: number;
  Config: {
    Labels: Record<string, string>;
    Entrypoint: string[] | null;
    User: string;
    Healthcheck?: { Test?: string[] };
  };
  RootFS: { Layers: string[] };
}

async function inspectAs(type: "container" | "image", name: string): Promise<unknown> {
  const out = await docker(["inspect", "--type", type, name]);
  if (out.code !== 0) throw new Error(`docker inspect ${name} failed: ${out.stderr.trim()}`);
  return (JSON.parse(out.stdout) as unknown[])[0];
}

/** `docker inspect` of one container, parsed; throws when it does not exist. */
export async function inspect(container: string): Promise<ContainerInspect> {
  return (await inspectAs("container", container)) as ContainerInspect;
}

/** `docker inspect` of one image, parsed; throws when it does not exist. */
export async function inspectImage(image: string): Promise<ImageInspect> {
  return (await inspectAs("image", image)) as ImageInspect;
}

function readEnvFile(path: string): Record<string, string> {
  const entries = readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/))
    .filter((m) => m !== null)
    .map((m) => [m[1]!, m[2]!.trim()]);
  return Object.fromEntries(entries);
}

async function provide(): Promise<DockerEnv> {
  // The first run on a fresh machine installs packages and fetches Node: minutes, not seconds.
  const out = await capture("bash", ["scripts/docker-env.sh"], { timeoutMs: 15 * 60_000 }).catch(
    (error: Error) => ({ code: -1, stdout: "", stderr: error.message }),
  );
  if (out.code !== 0) {
    const why = out.code === null ? "timed out after 15 minutes" : `exited ${out.code}`;
    throw new Error(
      `Docker is needed by this test and scripts/docker-env.sh could not provide it (${why}):\n` +
        `${out.stdout}${out.stderr}`.trim(),
    );
  }
  const written = readEnvFile(`${ROOT}dist/docker.env`);
  const { version } = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8"));
  const nodeImage = written.NODE_IMAGE!;
  const natsImage = written.FLOTILLA_NATS_IMAGE!;
  const images = Object.fromEntries(ROLES.map((role) => [role, `flotilla/${role}:${version}`]));
  return {
    nodeImage,
    natsImage,
    images: images as Record<Role, string>,
    composeEnv: {
      NODE_IMAGE: nodeImage,
      FLOTILLA_NATS_IMAGE: natsImage,
      FLOTILLA_IMAGE_TAG: version,
    },
  };
}

let provided: Promise<DockerEnv> | undefined;

/** Docker with the role images built from this checkout; once per process. */
export function ensureDocker(): Promise<DockerEnv> {
  provided ??= provide();
  return provided;
}
