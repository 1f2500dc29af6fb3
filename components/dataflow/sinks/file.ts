/**
 * An exactly-once file sink after Flink's FileSink: each subtask appends to a hidden in-progress
 * part file; at a barrier the file is closed and staged; when the checkpoint completes it is
 * renamed to its final name. A rename is atomic and the final name is in the checkpoint, so
 * committing again after a restore finds the file already final and does nothing.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, unlinkSync, writeSync } from "node:fs";
import { access, rename } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, FlotillaError, InvalidArgumentError } from "../../core/mod.ts";
import type { RuntimeContext, Sink, SinkWriter } from "../types.ts";
import { inCheckpointOrder } from "./support.ts";

export interface FileSinkOptions<T> {
  /** The output directory (created when missing). */
  path: string;
  /** One record as one line (without the "\n"). @default JSON.stringify */
  format?: (value: T) => string;
  /** Start of every part file's name. @default "part" */
  prefix?: string;
  /** End of every part file's name, e.g. ".jsonl". @default "" */
  suffix?: string;
}

/** A closed in-progress file and the name it gets when committed, both relative to `path`. */
export interface PartFile {
  inProgress: string;
  final: string;
}

export interface FileStaged {
  files: PartFile[];
}

/** Bytes buffered before they are written to the in-progress file. */
const BUFFER_BYTES = 64 * 1024;

export function file<T = unknown>(options: FileSinkOptions<T>): Sink<T> {
  const { path, format = defaultFormat, prefix = "part", suffix = "" } = options;
  if (typeof path !== "string" || path === "") {
    throw new InvalidArgumentError(
      `file sink: path must be an output directory, got ${JSON.stringify(path)}`,
    );
  }
  if (!/^[\w.-]*$/.test(prefix) || !/^[\w.-]*$/.test(suffix)) {
    throw new InvalidArgumentError(
      `file sink: prefix and suffix may hold letters, digits, "_", "-" and "." only, got ${JSON.stringify({ prefix, suffix })}`,
    );
  }
  return {
    kind: "file",
    createWriter: (ctx) => new FileWriter(ctx, { path, format, prefix, suffix }),
    describe: () => ({ kind: "file", path, prefix, suffix }),
  };
}

function defaultFormat(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

interface WriterOptions<T> {
  path: string;
  format: (value: T) => string;
  prefix: string;
  suffix: string;
}

/**
 * Writes synchronously into a buffer and the buffer synchronously into the file: `prepareCommit`
 * must leave the file complete on disk without awaiting, and appends to the page cache are cheap.
 */
class FileWriter<T> implements SinkWriter<T> {
  readonly #options: WriterOptions<T>;
  readonly #subtask: number;
  /** Job and attempt: with the subtask, no two writers ever pick the same name. */
  readonly #run: string;
  #parts = 0;
  #buffer: string[] = [];
  #bufferBytes = 0;
  #current: { name: string; fd: number } | undefined;
  /** Whether the current part has received any record (possibly still buffered). */
  #dirty = false;

  constructor(ctx: RuntimeContext, options: WriterOptions<T>) {
    this.#options = options;
    this.#subtask = ctx.subtask;
    this.#run = `${ctx.jobId.slice(0, 8)}-${ctx.attempt}`;
  }

  write(value: T): void {
    const line = `${this.#options.format(value)}\n`;
    this.#buffer.push(line);
    this.#bufferBytes += line.length;
    this.#dirty = true;
    if (this.#bufferBytes >= BUFFER_BYTES) this.#flush();
  }

  prepareCommit(checkpointId: number): FileStaged {
    const inProgress = this.#seal();
    if (!inProgress) return { files: [] };
    return { files: [{ inProgress, final: this.#name(String(checkpointId)) }] };
  }

  async commit(entries: Array<{ checkpointId: number; staged: unknown }>): Promise<void> {
    for (const { staged } of inCheckpointOrder<FileStaged>(entries)) {
      for (const part of staged.files) await commitPart(this.#options.path, part);
    }
  }

  async finish(): Promise<void> {
    const inProgress = this.#seal();
    if (inProgress) await commitPart(this.#options.path, { inProgress, final: this.#name("end") });
  }

  close(): void {
    // What is still in progress was never staged: a restore writes it again, so drop it.
    const current = this.#current;
    this.#current = undefined;
    this.#buffer = [];
    this.#bufferBytes = 0;
    this.#dirty = false;
    if (!current) return;
    closeSync(current.fd);
    try {
      unlinkSync(join(this.#options.path, current.name));
    } catch {
      // already gone
    }
  }

  /** `part-<subtask>-<checkpointId>-<job>-<attempt>`, or `end` in place of the checkpoint. */
  #name(checkpoint: string): string {
    const { prefix, suffix } = this.#options;
    return `${prefix}-${this.#subtask}-${checkpoint}-${this.#run}${suffix}`;
  }

  #flush(): void {
    if (!this.#current) {
      const { path, prefix } = this.#options;
      mkdirSync(path, { recursive: true });
      const name = `.${prefix}-${this.#subtask}-p${this.#parts++}-${this.#run}.inprogress`;
      this.#current = { name, fd: openSync(join(path, name), "w") };
    }
    const bytes = Buffer.from(this.#buffer.join(""));
    for (let done = 0; done < bytes.length; ) done += writeSync(this.#current.fd, bytes, done);
    this.#buffer = [];
    this.#bufferBytes = 0;
  }

  /** Writes out, syncs and closes the current part; its name, or undefined when nothing was written. */
  #seal(): string | undefined {
    if (!this.#dirty) return undefined;
    this.#flush();
    const { name, fd } = this.#current!;
    fsyncSync(fd);
    closeSync(fd);
    this.#current = undefined;
    this.#dirty = false;
    return name;
  }
}

/** Renames a staged part to its final name; a part already final counts as committed. */
async function commitPart(dir: string, { inProgress, final }: PartFile): Promise<void> {
  try {
    await rename(join(dir, inProgress), join(dir, final));
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  try {
    await access(join(dir, final));
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.INTERNAL,
      `file sink: cannot commit ${JSON.stringify(inProgress)} in ${dir}: neither it nor its final name ${JSON.stringify(final)} exists; the output directory was changed while the job ran`,
      { cause: err },
    );
  }
}
