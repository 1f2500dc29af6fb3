/**
 * The confinement of every TaskManager container the docker driver starts: no capabilities, no
 * privilege gain, a read-only root with an in-memory /tmp, bounded processes and memory, and the
 * handed files in small anonymous volumes (the Engine extracts archives into a read-only root only
 * where a volume is mounted), which go with the container (`DELETE ?v=true`).
 */
import { posix } from "node:path";
import type { ResourceProfile } from "../types.ts";
import type { ContainerFile } from "./tar.ts";

export interface ContainerConfinement {
  /** Most processes and threads in the container (`PidsLimit`). @default 256 */
  pidsLimit?: number;
  /** Memory limit of a profile that names none (MB). @default 1024 */
  defaultMemoryMb?: number;
  /** Size of the in-memory /tmp (MB; counts against the memory limit). @default 256 */
  tmpfsMb?: number;
}

/** The directories that hold `files`, one volume each: where their archives are extracted. */
export function fileDirectories(files: ContainerFile[]): string[] {
  return [...new Set(files.map((f) => posix.dirname(f.path)))].sort();
}

/** `files` under `dir` only (not in a directory below it, which has a volume of its own). */
export function filesIn(files: ContainerFile[], dir: string): ContainerFile[] {
  return files.filter((f) => posix.dirname(f.path) === dir);
}

/**
 * The `HostConfig` of a TaskManager container with profile `p`: its limits and its confinement.
 * Nothing from the host is mounted; the only writable places are /tmp and the file volumes.
 */
export function confinedHostConfig(
  p: ResourceProfile,
  fileDirs: string[],
  network: string | undefined,
  { pidsLimit = 256, defaultMemoryMb = 1024, tmpfsMb = 256 }: ContainerConfinement = {},
): Record<string, unknown> {
  const memoryMb = p.memoryMb > 0 ? p.memoryMb : defaultMemoryMb;
  return {
    NanoCpus: p.cpu > 0 ? Math.round(p.cpu * 1e9) : 0,
    Memory: Math.round(memoryMb * 1024 * 1024),
    // No swap beyond the memory limit: an over-limit container is killed, not slowed to a crawl.
    MemorySwap: Math.round(memoryMb * 1024 * 1024),
    PidsLimit: pidsLimit,
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges:true"],
    Privileged: false,
    ReadonlyRootfs: true,
    // Node's os.tmpdir(): the artifact cache and job processes' temporary files.
    Tmpfs: { "/tmp": `rw,noexec,nosuid,nodev,size=${tmpfsMb}m` },
    Mounts: fileDirs.map((dir) => ({ Type: "volume", Target: dir })),
    RestartPolicy: { Name: "no" },
    ...(network ? { NetworkMode: network } : {}),
  };
}
