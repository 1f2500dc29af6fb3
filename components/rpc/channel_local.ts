/**
 * The in-process channel (subtasks on the same TaskManager): the shared sender and receiver
 * cores joined directly, batches passed by reference.
 */
import {
  ChannelCanceledError,
  type ChannelReceiver,
  type ChannelSender,
  ReceiverCore,
  SenderCore,
} from "./channel.ts";

export interface LocalChannelOptions {
  /** Batches the receiver may hold before the sender waits. @default 8 */
  credits?: number;
  /** Shown in errors. @default "local" */
  name?: string;
}

/**
 * A channel inside one process (subtasks on the same TM): batches are passed by reference with
 * no encoding at all, under the same credit and ordering rules as the NATS channel.
 */
export function localChannel<T>({ credits = 8, name = "local" }: LocalChannelOptions = {}): {
  sender: ChannelSender<T>;
  receiver: ChannelReceiver<T>;
} {
  const receiver: ReceiverCore<T> = new ReceiverCore<T>(name, credits, {
    grant: (limit) => sender.grant(limit),
    abort: async (reason) =>
      sender.fail(new ChannelCanceledError(`channel ${name}: the receiver canceled (${reason})`)),
    dispose: () => {},
  });
  const sender: SenderCore<T> = new SenderCore<T>(name, {
    deliver: (seq, batch) => receiver.push(seq, batch),
    end: async (total) => receiver.end(total),
    abort: async (reason) =>
      receiver.fail(new ChannelCanceledError(`channel ${name}: the sender canceled (${reason})`)),
    dispose: () => {},
  });
  sender.grant(credits);
  return { sender, receiver };
}
