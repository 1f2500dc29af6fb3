/**
 * A text file, line by line, by one reader. Its position is the byte offset of the next line, so
 * a restore resumes exactly there: no line is lost or read twice. Lines end at "\n" (a "\r"
 * before it is dropped); a last line without "\n" is read too.
 */
import { type FileHandle, open } from "node:fs/promises";
import { resolve } from "node:path";
import { ErrorCode, FlotillaError, InvalidArgumentError, NotFoundError } from "../../core/mod.ts";
import type { Source, SourceBatch, SourceReader } from "../types.ts";
import { firstNumber } from "./support.ts";

export interface LinesOptions {
  /** The file to read (relative paths resolve against the TaskManager's working directory). */
  path: string;
  /** Bytes read per file access. @default 65536 */
  chunkSize?: number;
}

export function lines({ path, chunkSize = 65_536 }: LinesOptions): Source<string> {
  if (typeof path !== "string" || path === "") {
    throw new InvalidArgumentError(
      `lines: path must be a file path, got ${JSON.stringify(path)}; e.g. sources.lines({ path: env.arg("input") })`,
    );
  }
  return {
    kind: "lines",
    parallelism: 1,
    bounded: true,
    createReader: () => new LinesReader(path, chunkSize),
    describe: () => ({ kind: "lines", path }),
  };
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const decoder = new TextDecoder();

class LinesReader implements SourceReader<string> {
  readonly #path: string;
  readonly #chunkSize: number;
  #file: FileHandle | undefined;
  /** Bytes read but not yet emitted as lines; they start at file offset `#offset`. */
  #pending: Buffer = Buffer.alloc(0);
  #offset = 0;
  #eof = false;

  constructor(path: string, chunkSize: number) {
    this.#path = path;
    this.#chunkSize = chunkSize;
  }

  restore(positions: unknown[]): void {
    this.#offset = firstNumber(positions) ?? 0;
    this.#pending = Buffer.alloc(0);
    this.#eof = false;
  }

  async poll(max: number): Promise<SourceBatch<string> | null> {
    const values: string[] = [];
    while (values.length < max) {
      const end = this.#pending.indexOf(NEWLINE);
      if (end >= 0) {
        values.push(this.#take(end, end + 1));
      } else if (this.#eof) {
        if (this.#pending.length > 0)
          values.push(this.#take(this.#pending.length, this.#pending.length));
        break;
      } else {
        await this.#read();
      }
    }
    if (values.length === 0 && this.#eof && this.#pending.length === 0) {
      await this.close();
      return null;
    }
    return { values };
  }

  position(): number {
    return this.#offset;
  }

  async close(): Promise<void> {
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }

  /** The line in `#pending[0, end)`, consuming `consumed` bytes (the line and its "\n"). */
  #take(end: number, consumed: number): string {
    const stop = end > 0 && this.#pending[end - 1] === CARRIAGE_RETURN ? end - 1 : end;
    const line = decoder.decode(this.#pending.subarray(0, stop));
    this.#pending = this.#pending.subarray(consumed);
    this.#offset += consumed;
    return line;
  }

  async #read(): Promise<void> {
    this.#file ??= await openFile(this.#path);
    const file = this.#file;
    const chunk = Buffer.allocUnsafe(this.#chunkSize);
    const from = this.#offset + this.#pending.length;
    const { bytesRead } = await file.read(chunk, 0, chunk.length, from);
    if (bytesRead === 0) this.#eof = true;
    else this.#pending = Buffer.concat([this.#pending, chunk.subarray(0, bytesRead)]);
  }
}

async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new NotFoundError(
        ErrorCode.NOT_FOUND,
        `lines: file ${JSON.stringify(path)} does not exist (resolved to ${resolve(path)}); check the path the job was given`,
        { cause: err },
      );
    }
    throw new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `lines: cannot open ${JSON.stringify(path)}: ${(err as Error).message}`,
      { cause: err },
    );
  }
}
