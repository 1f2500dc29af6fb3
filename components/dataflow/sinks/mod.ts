/** The sinks a job writes to: `sinks.log()`, `sinks.collect()`, `sinks.file(...)`, ... */
import { collect } from "./collect.ts";
import { discard } from "./discard.ts";
import { file } from "./file.ts";
import { jetstream } from "./jetstream.ts";
import { kv } from "./kv.ts";
import { log } from "./log.ts";

export type { CollectStaged } from "./collect.ts";
export type { FileSinkOptions, FileStaged, PartFile } from "./file.ts";
export type {
  DeliveryGuarantee,
  JetStreamSinkOptions,
  JetStreamStaged,
  StagedMessage,
} from "./jetstream.ts";
export type { KvSinkOptions, KvStaged } from "./kv.ts";
export type { LogSinkLevel, LogSinkOptions } from "./log.ts";

export const sinks = { log, collect, discard, file, jetstream, kv } as const;
