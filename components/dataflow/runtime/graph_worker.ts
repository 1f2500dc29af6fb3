/**
 * The graph sandbox's inside: a process of its own (`flotilla graph-worker`, started by the
 * Dispatcher under the runtime's permission model, with no environment, often before its request
 * comes) that imports one job artifact from the bytes it is sent, builds its graph and answers
 * with the graph's structure as plain data. User code runs here, never in the Dispatcher's
 * process. One CBOR request on stdin, one reply on stdout.
 */
import { cbor, ErrorCode, FlotillaError } from "../../core/mod.ts";
import { type JobTopology, topologyOf } from "../graph/topology.ts";
import { loadArtifact } from "./artifact.ts";
import { configureJobRuntime } from "./job_runtime_settings.ts";

export interface GraphWorkerRequest {
  /** The artifact's bytes, imported from memory (the worker may write no file). */
  bytes: Uint8Array;
  /** Their sha256. */
  artifact: string;
  /** How errors name the job, e.g. "artifact 1a2b3c4d5e6f". */
  name: string;
  args: Record<string, string>;
  parallelism?: number;
  /** The job's own secrets (submitted with it). */
  secrets?: Record<string, string>;
  /** Where `env.secret` reads (the job's secrets there are readable to the worker; no others). */
  secretsDir: string;
}

export type GraphWorkerReply =
  | { topology: JobTopology }
  | { error: { code: ErrorCode; message: string } };

/** Builds the requested graph; every failure becomes an error reply naming what went wrong. */
export async function graphWorkerReply(request: GraphWorkerRequest): Promise<GraphWorkerReply> {
  try {
    configureJobRuntime({ "secrets.dir": request.secretsDir, "artifact.cache-dir": "" });
    const job = await loadArtifact(request.bytes, {
      cacheDir: null,
      name: request.name,
      expected: request.artifact,
    });
    const graph = job.graph({
      args: request.args,
      ...(request.parallelism ? { parallelism: request.parallelism } : {}),
      ...(request.secrets ? { secrets: request.secrets } : {}),
    });
    return { topology: topologyOf(graph) };
  } catch (err) {
    const code = err instanceof FlotillaError ? err.code : ErrorCode.INVALID_ARGUMENT;
    const message = err instanceof Error ? err.message : String(err);
    return { error: { code, message } };
  }
}

/** The worker process: reads the request from stdin, writes the reply to stdout. */
export async function runGraphWorker(
  stdin: AsyncIterable<Uint8Array>,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stdin) chunks.push(chunk);
  const request = cbor.decode(Buffer.concat(chunks)) as GraphWorkerRequest;
  await write(cbor.encode(await graphWorkerReply(request)));
}
